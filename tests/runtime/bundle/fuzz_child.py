"""Child process of test_fuzz_bundle.py: one campaign against the bundle reader, under RLIMIT_AS.

    python fuzz_child.py BASE.ewb CAMPAIGN FIRST_SEED COUNT LIMIT_BYTES

Prints one JSON line: {"cases", "refused", "accepted", "failures": [{"seed", "mutation", "error"}]}.
A case passes when decode_model returns bytes of the declared model size or raises BundleError.
"""
from __future__ import annotations

import json
import resource
import sys
import traceback

import numpy as np


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    yield path


_VALUES = (0, 1, -1, 2, 255, 256, 65535, 65536, 1 << 31, 1 << 32, 1 << 40, 1 << 63, -(1 << 40), 1.5, "x", "",
           None, [], {}, "raw", "rans", "const", "gaps", "mask", "dense", "planes", "zlib", True)


def manifest_mutant(blob: bytes, seed: int):
    from edgewise.bundle.pack import seal
    from edgewise.runtime.bundle import read_bundle

    rng = np.random.default_rng(seed)
    c = read_bundle(blob)
    doc = c.manifest.to_dict()
    edits = []
    for _ in range(int(rng.integers(1, 4))):
        paths = [p for p in _leaves(doc) if p]
        if not paths:
            break
        path = paths[int(rng.integers(len(paths)))]
        target = doc
        for k in path[:-1]:
            target = target[k]
        value = _VALUES[int(rng.integers(len(_VALUES)))]
        if isinstance(target[path[-1]], int) and not isinstance(target[path[-1]], bool) and rng.random() < 0.5:
            value = target[path[-1]] + int(rng.integers(-3, 4))  # near misses: off-by-a-few sizes
        target[path[-1]] = value
        edits.append(f"{'/'.join(map(str, path))}={value!r}")
    return seal(json.dumps(doc).encode(), blob[c.payload_start:]), "; ".join(edits)


def payload_mutant(blob: bytes, seed: int):
    from edgewise.bundle.pack import seal
    from edgewise.runtime.bundle import read_bundle
    from edgewise.runtime.bundle.container import sha256_hex

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from conformance.mutations import mutate

    c = read_bundle(blob)
    doc = c.manifest.to_dict()
    members = [bytes(blob[c.payload_start + m["offset"]:c.payload_start + m["offset"] + m["size"]]) for m in doc["members"]]
    which = 1 if np.random.default_rng(seed).random() < 0.8 else 0
    members[which], mutation = mutate(members[which], seed)
    pos = 0
    for m, b in zip(doc["members"], members):
        m.update(offset=pos, size=len(b), sha256=sha256_hex(b))
        if m["coding"] == "none":
            m["decoded_size"] = len(b)
        pos += len(b)
    return seal(json.dumps(doc).encode(), b"".join(members)), f"member {which}: {mutation}"


def raw_mutant(blob: bytes, seed: int):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from conformance.mutations import mutate

    data, mutation = mutate(blob, seed)
    return data, str(mutation)


CAMPAIGNS = {"raw": raw_mutant, "payload": payload_mutant, "manifest": manifest_mutant}


def main() -> int:
    base, campaign, first, count, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from edgewise.runtime.bundle import BundleError, decode_model

    blob = open(base, "rb").read()
    out = {"cases": 0, "refused": 0, "accepted": 0, "failures": []}
    for seed in range(first, first + count):
        data, what = CAMPAIGNS[campaign](blob, seed)
        out["cases"] += 1
        try:
            model = decode_model(data)
        except BundleError:
            out["refused"] += 1
            continue
        except Exception as e:  # anything else is a bug in the reader, reported with its seed
            out["failures"].append({"seed": seed, "mutation": what, "error": f"{type(e).__name__}: {e}",
                                    "trace": traceback.format_exc()[-1500:]})
            continue
        out["accepted"] += 1
        if not isinstance(model, bytes):
            out["failures"].append({"seed": seed, "mutation": what, "error": "decode_model returned no bytes"})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

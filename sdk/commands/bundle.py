"""`edgewise pack` and `edgewise unpack`: the .ewb bundle (`edgewise inspect` reads bundles too).

Both need only NumPy: pack reads the model with the runtime's own parsers, so it works on a
device as well as on the host.
"""
from __future__ import annotations

import json
import sys


def _key(path):
    if path is None:
        return None
    with open(path, "rb") as f:
        key = f.read()
    if not key:
        raise ValueError(f"{path}: the key file is empty")
    return key


def cmd_pack(args) -> int:
    from ..bundle import pack

    r = pack(args.model, args.out, recipe_report=args.recipe_report, key=_key(args.key_file), name=args.name)
    if args.json:
        json.dump(r.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"wrote {r.path}: download {r.download_bytes:,} bytes (.ewb), disk {r.disk_bytes:,} bytes (unpacked), "
          f"RAM {r.ram_bytes:,} bytes (constants at run time, dense)")
    print(f"  {r.disk_bytes / r.download_bytes:.2f}x smaller than {r.model}; weights {r.weights_bytes:,} bytes "
          f"= {r.entropy_ratio:.3f}x their order-0 entropy ({r.entropy_floor_bytes:,.0f} bytes), "
          f"{r.two_part_ratio:.3f}x an ideal two-part code ({r.two_part_bytes:,.0f} bytes)"
          + ("; signed (HMAC-SHA256)" if r.signed else ""))
    for t in r.tensors:
        print(f"  {t.name}: {t.layout} [{', '.join(t.codings)}] {t.nbytes:,} -> {t.coded_bytes:,} bytes")
    return 0


def cmd_unpack(args) -> int:
    from ..bundle import unpack

    for path in unpack(args.bundle, args.out, key=_key(args.key_file)):
        print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("pack", help="write a .tflite/.onnx as one entropy-coded .ewb bundle")
    p.add_argument("model", help="a .tflite or .onnx file")
    p.add_argument("--out", required=True, help="the .ewb to write")
    p.add_argument("--recipe-report", metavar="REPORT.json", help="report.json of the run that made the model: "
                   "its recipe, accuracy and sizes go into the manifest")
    p.add_argument("--name", help="model name in the manifest (default: the file name)")
    p.add_argument("--key-file", help="sign with HMAC-SHA256 under this shared key (signing is not encryption)")
    p.add_argument("--json", action="store_true", help="print the per-tensor choices and sizes as JSON")
    p.set_defaults(func=cmd_pack)

    u = sub.add_parser("unpack", help="decode a .ewb into a folder: the model file and manifest.json")
    u.add_argument("bundle")
    u.add_argument("--out", required=True, help="folder to write into (nothing is written outside it)")
    u.add_argument("--key-file", help="require a valid HMAC-SHA256 signature under this key")
    u.set_defaults(func=cmd_unpack)

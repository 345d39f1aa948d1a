"""Child process of test_fuzz: load and run a batch of mutant models, under an address-space limit.

    python fuzz_child.py manifest.json START

The manifest is {"backend": "numpy" | "litert-builtin", "limit_bytes": int, "cases": [path, ...],
"allowed_extra": [exception class name, ...]} (the last for LiteRT's own RuntimeError refusals).
For each case from START it prints `BEGIN i`, then one of
    END i OK
    END i ALLOWED <ExceptionClass>          an EdgewiseRuntimeError subclass: a clean refusal
    END i SKIP <why>                        the harness declined (an input over 16M elements)
    END i BAD <ExceptionClass>: <message>   anything else, a bug
and flushes, so that when the process dies (a segfault, the kernel's OOM killer) the parent knows
which case killed it. RLIMIT_AS turns an attempt to allocate gigabytes into a MemoryError (BAD),
and a per-case alarm turns a hang into a BAD TimeoutError. Imports nothing but the runtime.
"""
from __future__ import annotations

import json
import resource
import signal
import sys

MAX_INPUT_ELEMENTS = 1 << 24
CASE_SECONDS = 20


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout(f"no result after {CASE_SECONDS} s")


def _inputs(model, np):
    rng = np.random.default_rng(0)
    feeds = []
    for spec in model.inputs:
        shape = tuple(d if isinstance(d, int) and d >= 0 else 1 for d in spec.shape)
        if int(np.prod(shape, dtype=np.float64)) > MAX_INPUT_ELEMENTS:
            return None
        dt = spec.np_dtype
        if dt.kind == "f":
            feeds.append(rng.standard_normal(shape).astype(dt))
        else:
            feeds.append(np.zeros(shape, dt))
    return feeds


def main(manifest_path: str, start: int) -> None:
    with open(manifest_path) as f:
        manifest = json.load(f)
    limit = int(manifest["limit_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)

    import numpy as np

    from edgewise.runtime import EdgewiseRuntimeError, load

    backend = manifest["backend"]
    allowed_extra = set(manifest.get("allowed_extra", ()))
    for i, path in enumerate(manifest["cases"]):
        if i < start:
            continue
        print(f"BEGIN {i}", flush=True)
        signal.alarm(CASE_SECONDS)
        try:
            model = load(path, backend=backend)
            feeds = _inputs(model, np)
            if feeds is None:
                result = "SKIP input over 16M elements"
            else:
                model.run(feeds)
                result = "OK"
        except EdgewiseRuntimeError as e:
            result = f"ALLOWED {type(e).__name__}"
        except Exception as e:  # noqa: BLE001 - every other exception is the finding we report
            msg = " ".join(str(e).split())[:300]
            verdict = "ALLOWED" if type(e).__name__ in allowed_extra else "BAD"
            result = f"{verdict} {type(e).__name__}: {msg}"
        finally:
            signal.alarm(0)
        print(f"END {i} {result}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

"""What it costs a device to host each runtime: import time and peak memory, in fresh processes.

    python benchmarks/runtime_footprint.py [--repeats 7] [--model demo_cnn] [--variant int8]
    python benchmarks/runtime_footprint.py --all-models [--repeats 3]

Each subject runs in a new interpreter (`python -I -c ...`, nothing cached from a previous run)
that imports the runtime, loads one conformance model and runs it once, then reports the import time
(perf_counter_ns around the import statement), the load + first inference time and the peak resident
set size, interpreter included: VmHWM from /proc/self/status, not getrusage's ru_maxrss, which Linux
carries across execve from the forking parent and so reports the benchmark's own size. Subjects:

  python          - the null system: an interpreter that imports nothing (the harness's own floor);
  numpy           - `import numpy` alone, the floor of any NumPy program;
  edgewise-numpy  - edgewise.runtime with backend="numpy" (.tflite);
  litert          - ai_edge_litert's Interpreter, default resolver (.tflite);
  onnxruntime     - InferenceSession on CPU (the .onnx export of the same model);
  tensorflow      - tf.lite.Interpreter (.tflite), what a host-side user would reach for.

Medians over the repetitions, which are interleaved (every subject once, then again) so that a
shared host's drifting load does not land on one subject. The last line is one `key=value` record; the targets for the NumPy
backend are delta_import_ms <= 50 and delta_rss_mb <= 10 over bare numpy. delta_import_load_run_ms
adds what the runtime imports lazily on first use (the interpreter and its kernels) and the first run.

`--all-models` instead measures the peak RSS of load + first inference for every conformance model
and TFLite variant, NumPy backend next to LiteRT (builtin kernels), each over bare `import numpy`,
with the file size beside: the NumPy backend lays int8 weights out once in the float type its
exact GEMM runs in (float32, 4 bytes a weight), plus the plan's buffers; LiteRT maps the file.
Its record: `<model>_<variant>_rss_mb=` (NumPy backend over numpy) and `..._litert_rss_mb=`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List

from edgewise.runtime.records import Record
from _conformance import conformance

_TEMPLATE = """
import json, resource, sys, time
path = sys.argv[1]
t0 = time.perf_counter_ns()
{imp}
t1 = time.perf_counter_ns()
{run}
t2 = time.perf_counter_ns()
try:
    with open("/proc/self/status") as f:
        rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
except OSError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"import_ns": t1 - t0, "run_ns": t2 - t1, "rss_bytes": rss}}))
"""

_SUBJECTS = {
    "python": ("tflite", "pass", "pass"),
    "numpy": ("tflite", "import numpy as np", "pass"),
    "edgewise-numpy": ("tflite", "import numpy as np\nfrom edgewise.runtime import load", """
m = load(path, backend="numpy")
feeds = [np.zeros(tuple(d if isinstance(d, int) else 1 for d in s.shape), s.np_dtype) for s in m.inputs]
m.run(feeds)"""),
    "litert": ("tflite", "import numpy as np\nfrom ai_edge_litert.interpreter import Interpreter", """
it = Interpreter(model_path=path, num_threads=1)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()"""),
    "litert-builtin": ("tflite", "import numpy as np\nfrom ai_edge_litert.interpreter import Interpreter, OpResolverType", """
it = Interpreter(model_path=path, num_threads=1,
                 experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()"""),
    "onnxruntime": ("onnx", "import numpy as np\nimport onnxruntime as ort", """
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
typ = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(int8)": np.int8}
sess.run(None, {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], typ[i.type])
                for i in sess.get_inputs()})"""),
    "tensorflow": ("tflite", "import numpy as np\nimport tensorflow as tf", """
it = tf.lite.Interpreter(model_path=path, num_threads=1)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()"""),
}


@dataclass(frozen=True)
class Footprint(Record):
    subject: str
    import_ms: float
    run_ms: float
    rss_mb: float
    repeats: int


def run_once(subject: str, path: str) -> dict:
    """One fresh process: {"import_ns", "run_ns", "rss_bytes"}; raises RuntimeError if it fails."""
    _, imp, run = _SUBJECTS[subject]
    code = _TEMPLATE.format(imp=imp, run=run)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-I", "-c", code, path], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"{subject}: {last[:200]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def summarize(subject: str, samples: List[dict]) -> Footprint:
    def med(key: str) -> float:
        return statistics.median(s[key] for s in samples)

    return Footprint(subject, med("import_ns") / 1e6, med("run_ns") / 1e6, med("rss_bytes") / 2**20, len(samples))


def all_models(repeats: int) -> Dict[str, Dict[str, Footprint]]:
    """Peak RSS of load + first inference per conformance model and TFLite variant (module docstring)."""
    models, convert, _ = conformance()
    store = convert.ModelStore()
    subjects = ("numpy", "edgewise-numpy", "litert-builtin")
    out: Dict[str, Dict[str, Footprint]] = {}
    record = {}
    print(f"peak RSS of load + first inference, MB over bare `import numpy` (medians of {repeats} fresh processes)")
    print(f"{'model':20s} {'variant':8s} {'file MB':>8s} {'numpy MB':>9s} {'edgewise':>9s} {'litert':>9s}")
    for name in models.CONFORMANCE_MODELS:
        for variant in convert.TFLITE_VARIANTS:
            path = str(store.path(name, "tflite", variant))
            samples: Dict[str, List[dict]] = {s: [] for s in subjects}
            for _ in range(repeats):
                for sub in subjects:
                    samples[sub].append(run_once(sub, path))
            res = {sub: summarize(sub, v) for sub, v in samples.items()}
            out[f"{name}/{variant}"] = res
            base = res["numpy"].rss_mb
            ours, lite = res["edgewise-numpy"].rss_mb - base, res["litert-builtin"].rss_mb - base
            size = os.path.getsize(path) / 2**20
            print(f"{name:20s} {variant:8s} {size:8.2f} {base:9.1f} {ours:9.1f} {lite:9.1f}", flush=True)
            record[f"{name}_{variant}_rss_mb"] = f"{ours:.1f}"
            record[f"{name}_{variant}_litert_rss_mb"] = f"{lite:.1f}"
    print("footprint " + " ".join(f"{k}={v}" for k, v in record.items()))
    return out


def main(argv=None) -> Dict[str, Footprint]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--all-models", action="store_true", help="peak RSS per conformance model and variant")
    ap.add_argument("--model", default="demo_cnn")
    ap.add_argument("--variant", default="int8", help="TFLite variant; the ONNX side uses the float32 export")
    ap.add_argument("--subjects", default=",".join(s for s in _SUBJECTS if s != "litert-builtin"))
    args = ap.parse_args(argv)
    if args.all_models:
        return all_models(args.repeats)

    _, convert, _ = conformance()
    store = convert.ModelStore()
    files = {"tflite": str(store.path(args.model, "tflite", args.variant)),
             "onnx": str(store.path(args.model, "onnx", "float32"))}
    subjects = args.subjects.split(",")
    samples: Dict[str, List[dict]] = {sub: [] for sub in subjects}
    # Repetitions outermost: every subject sees the same spread of background load on a shared host.
    for _ in range(args.repeats):
        for sub in list(samples):
            try:
                samples[sub].append(run_once(sub, files[_SUBJECTS[sub][0]]))
            except RuntimeError as e:
                print(f"  skipped {e}", file=sys.stderr)
                del samples[sub]
    results = {sub: summarize(sub, v) for sub, v in samples.items()}
    print(f"model: {args.model} ({args.variant} .tflite, float32 .onnx); {args.repeats} fresh processes each, medians")
    print(f"{'subject':16s} {'import ms':>10s} {'load+run ms':>12s} {'peak RSS MB':>12s}")
    for fp in results.values():
        print(f"{fp.subject:16s} {fp.import_ms:10.1f} {fp.run_ms:12.1f} {fp.rss_mb:12.1f}")

    record = {}
    for s, fp in results.items():
        key = s.replace("-", "_")
        record[f"{key}_import_ms"] = f"{fp.import_ms:.1f}"
        record[f"{key}_rss_mb"] = f"{fp.rss_mb:.1f}"
    if "numpy" in results and "edgewise-numpy" in results:
        base, ours = results["numpy"], results["edgewise-numpy"]
        record["delta_import_ms"] = f"{ours.import_ms - base.import_ms:.1f}"
        record["delta_rss_mb"] = f"{ours.rss_mb - base.rss_mb:.1f}"
        record["delta_import_load_run_ms"] = f"{ours.import_ms + ours.run_ms - base.import_ms:.1f}"
    print("footprint " + " ".join(f"{k}={v}" for k, v in record.items()))
    return results


if __name__ == "__main__":
    main()

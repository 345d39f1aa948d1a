"""What the device harness adds to a latency: `edgewise bench --device local` vs a bare loop.

The same ONNX model (a float32 MLP, 3 x MatMul+Relu of width --width, onnxruntime on one thread),
the same seeded input pool and the same loop (perf_counter_ns around each `Model.run`, loadgen's
single stream: stop when both the count and the duration are met) are timed three ways:

  bare      the loop alone in a fresh interpreter, no harness at all
  harness   `run_benchmark(device="local")`: the agent in its own interpreter, streaming batches
  +power    the same with the power sampler reading a fake INA226 hwmon folder every 50 ms (this
            machine has no power sensor; the reads are real file reads, so their cost is real)

A null model (Identity on one float) measures the agent's floor in nanoseconds. The three systems
take turns for --rounds rounds so that background load drifts over all of them alike; the
figure per system is the median of its per-round p50s. Target: harness and +power within 3% of
bare (ratio <= 1.03).

    python benchmarks/harness_overhead.py [--rounds 3] [--min-duration 3] [--width 512]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def make_models(folder: str, width: int):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        w = numpy_helper.from_array((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"h{i}"]), helper.make_node("Relu", [f"h{i}"], [f"r{i}"])]
        prev = f"r{i}"
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, width])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [8, width])], inits)
    mlp = os.path.join(folder, "mlp.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), mlp)
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "null",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    null = os.path.join(folder, "null.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), null)
    return mlp, null


def fake_power_tree(root: str) -> None:
    hw = os.path.join(root, "sys/class/hwmon/hwmon0")
    os.makedirs(hw)
    for name, value in (("name", "ina226"), ("in1_input", "5000"), ("curr1_input", "400"), ("power1_input", "2000000")):
        with open(os.path.join(hw, name), "w") as f:
            f.write(value + "\n")


def bare_p50_ns(path: str, runs: int, min_duration_s: float, warmup: int) -> float:
    """The bare loop in a fresh interpreter (so it starts as the agent does: a new process with
    a cold heap), printing its p50."""
    import subprocess

    code = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); " \
           f"import harness_overhead as h; print(h._bare_loop({path!r}, {runs}, {min_duration_s}, {warmup}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def _bare_loop(path: str, runs: int, min_duration_s: float, warmup: int) -> float:
    """The agent's own loop with no harness around it (same inputs: the agent's make_inputs, same seed)."""
    from edgewise.device_tests.agent import make_inputs
    from edgewise.runtime import load

    model = load(path, backend="onnxruntime", num_threads=1)
    pool = make_inputs(np, model.inputs, 0, 4)
    clock = time.perf_counter_ns
    for i in range(warmup):
        model.run(pool[i % len(pool)])
    lat, count, start = [], 0, clock()
    while True:
        t0 = clock()
        model.run(pool[count % len(pool)])
        t1 = clock()
        lat.append(t1 - t0)
        count += 1
        if count >= runs and t1 - start >= min_duration_s * 1e9:
            break
    return float(np.percentile(lat, 50, method="inverted_cdf"))


def harness_p50_ns(path: str, runs: int, min_duration_s: float, warmup: int, power_root=None) -> float:
    from edgewise.device_tests.bench import BenchSettings, run_benchmark

    s = BenchSettings(runs=runs, warmup=warmup, min_duration_s=min_duration_s, backend="onnxruntime", num_threads=1,
                      power="auto" if power_root else "off", idle_s=0.2, sysfs_root=power_root or "/")
    r = run_benchmark(path, "local", s)
    if power_root:
        assert r.power.source == "hwmon:ina226", r.power
    return r.latency_ms.p50 * 1e6


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--min-duration", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--width", type=int, default=512)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgewise-overhead-") as tmp:
        mlp, null = make_models(tmp, args.width)
        power_root = os.path.join(tmp, "fake-root")
        fake_power_tree(power_root)
        systems = {
            "bare": lambda m: bare_p50_ns(m, args.runs, args.min_duration, 20),
            "harness": lambda m: harness_p50_ns(m, args.runs, args.min_duration, 20),
            "+power": lambda m: harness_p50_ns(m, args.runs, args.min_duration, 20, power_root),
        }
        p50 = {(name, model): [] for name in systems for model in ("mlp", "null")}
        for rnd in range(args.rounds):
            for model, path in (("mlp", mlp), ("null", null)):
                for name, run in systems.items():
                    p50[(name, model)].append(run(path))
            print(f"round {rnd + 1}/{args.rounds}: " + ", ".join(
                f"{n}/{m} {v[-1] / 1e3:.1f} us" for (n, m), v in p50.items()), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in p50.items()}
    print(f"{'system':10s} {'mlp p50 us':>12s} {'null p50 ns':>12s}")
    for name in systems:
        print(f"{name:10s} {med[(name, 'mlp')] / 1e3:12.2f} {med[(name, 'null')]:12.0f}")
    bare = med[("bare", "mlp")]
    record = {
        "mlp_bare_p50_us": f"{bare / 1e3:.2f}",
        "ratio_harness": f"{med[('harness', 'mlp')] / bare:.4f}",
        "ratio_harness_power": f"{med[('+power', 'mlp')] / bare:.4f}",
        "null_bare_ns": f"{med[('bare', 'null')]:.0f}",
        "null_harness_ns": f"{med[('harness', 'null')]:.0f}",
        "null_harness_power_ns": f"{med[('+power', 'null')]:.0f}",
    }
    record["target_met"] = str(max(float(record["ratio_harness"]), float(record["ratio_harness_power"])) <= 1.03)
    print("harness_overhead " + " ".join(f"{k}={v}" for k, v in record.items()))
    return record


if __name__ == "__main__":
    main()

"""Sparse vs dense: latency of an FC-heavy model whose weights are pruned, single thread.

    python benchmarks/sparse_speed.py [--size 1024] [--layers 3] [--batches 1,8]
                                      [--min-count 50] [--min-duration-ms 300]

The model is `--layers` fully-connected layers of size x size (bias, ReLU; the int8 variant
requantizes to int8 between layers as TFLite's FULLY_CONNECTED does). Weights are random, pruned to
each pattern: 0/50/70/90/95 % unstructured, 2:4, 90 % in 4x4 blocks and 90 % in 16x1 blocks.

Following MLPerf loadgen: the settings are a minimum query count and a minimum duration (a run ends
when both are met), the sample source cycles through pre-made inputs, and each system under test
is timed per query with perf_counter_ns; p50 / p90 / p99 and the count are reported. The systems of
one row take turns query by query, so a noisy neighbour slows them alike. A null system
(returns its input) measures the harness's own overhead. Systems:

  dense     - every layer through plan_matmul(kind="dense"): x @ W.T, one BLAS call. For int8
              this already uses float32 when pruning made it exact (see runtime/sparse/exact.py);
  backend   - (int8 only) the NumPy backend's dense FULLY_CONNECTED as written before sparse
              plans: float32 only if k * 255 * max|w| < 2^24, else float64 (runtime/tflite/ops);
  sparse    - the best sparse layout forced on every layer, whether or not it is faster;
  plan      - plan_matmul(kind="auto"): what the runtime would run.

Speedups ("sparse x", "plan x": over dense; "vs backend": plan over backend) are medians of the
per-round ratios of two systems timed back to back on the same input, which a noisy neighbour
moves far less than a ratio of p50s; identical systems read 1.00. The last line is one
`key=value` record; fc_90pct_speedup is dense / plan at 90 % unstructured, float32, batch 1 (the
runtime issue's target is >= 3).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Tuple  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edgewise.runtime.sparse import plan_matmul  # noqa: E402
from edgewise.runtime.records import Record  # noqa: E402
from tests.runtime.sparse._weights import blocks, n_of_m, unstructured  # noqa: E402

PATTERNS = ("0%", "50%", "70%", "90%", "95%", "2:4", "4x4@90%", "16x1@90%")


@dataclass(frozen=True)
class Settings(Record):
    min_count: int = 50
    min_duration_ms: float = 300.0


@dataclass(frozen=True)
class Latency(Record):
    system: str
    count: int
    p50_us: float
    p90_us: float
    p99_us: float


def run(systems: Dict[str, Callable], samples: List[np.ndarray], s: Settings
        ) -> Tuple[Dict[str, Latency], Dict[str, np.ndarray]]:
    """Time the systems round-robin, one query each in turn, until every one has min_count queries
    and min_duration has passed: on a shared machine, load from other processes then falls on
    all systems alike instead of on whichever ran during a busy second. Returns the latency
    summaries and the raw per-round nanoseconds (for paired ratios)."""
    for sut in systems.values():
        sut(samples[0])  # warm-up: first-use allocations and lazily built layouts
    lat: Dict[str, List[int]] = {name: [] for name in systems}
    start = time.perf_counter_ns()
    i = 0
    while i < s.min_count or time.perf_counter_ns() - start < s.min_duration_ms * 1e6:
        x = samples[i % len(samples)]
        for name, sut in systems.items():
            t0 = time.perf_counter_ns()
            sut(x)
            lat[name].append(time.perf_counter_ns() - t0)
        i += 1
    out = {}
    for name, ns in lat.items():
        p50, p90, p99 = np.percentile(np.array(ns) / 1e3, [50, 90, 99])
        out[name] = Latency(name, len(ns), float(p50), float(p90), float(p99))
    return out, {name: np.array(ns, np.float64) for name, ns in lat.items()}


def paired_speedup(raw: Dict[str, np.ndarray], base: str, system: str) -> float:
    """Median over rounds of base / system latency, both timed back to back on the same input:
    a pause that hits one query of a round moves one ratio, not the whole distribution."""
    return float(np.median(raw[base] / raw[system]))


def weights(pattern: str, rng, size: int, integer: bool) -> np.ndarray:
    shape = (size, size)
    if pattern == "2:4":
        return n_of_m(rng, shape, 2, 4, integer)
    if "@" in pattern:
        bh, bw = (int(v) for v in pattern.split("@")[0].split("x"))
        return blocks(rng, shape, bh, bw, float(pattern.split("@")[1].rstrip("%")) / 100, integer)
    return unstructured(rng, shape, float(pattern.rstrip("%")) / 100, integer)


def _sparse_kind(pattern: str) -> str:
    return "nm" if pattern == "2:4" else "block" if "@" in pattern else "csr"


def float_model(ws, kind: str, batch: int):
    plans = [plan_matmul(w, exact_int=False, kind=kind, batch_hint=batch, name=f"fc{i}") for i, w in enumerate(ws)]
    biases = [np.full(w.shape[0], 0.01, np.float32) for w in ws]

    def sut(x):
        for p, b in zip(plans, biases):
            x = np.maximum(p(x) + b, 0)
        return x
    return sut, plans


def _requant(acc: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.rint(acc * scale), -128, 127).astype(np.int8)


def int8_model(ws, kind: str, scales, batch: int):
    plans = [plan_matmul(w, exact_int=True, x_abs_max=255, kind=kind, batch_hint=batch, name=f"fc{i}")
             for i, w in enumerate(ws)]

    def sut(x):
        for p, sc in zip(plans, scales):
            x = _requant(p(x.astype(np.int32) + 128), sc)  # input zero point -128
        return x
    return sut, plans


def int8_backend_model(ws, scales):
    """The NumPy backend's dense int8 FULLY_CONNECTED (runtime/tflite/ops/fully_connected.py)."""
    layers = []
    for w in ws:
        k = w.shape[1]
        gdt = np.float32 if k * 255 * int(np.abs(w.astype(np.int32)).max(initial=0)) < (1 << 24) else np.float64
        layers.append((gdt, np.ascontiguousarray(w.T.astype(gdt))))

    def sut(x):
        for (gdt, wt), sc in zip(layers, scales):
            acc = ((x.astype(gdt) - gdt(-128)) @ wt).astype(np.int64)
            x = _requant(acc, sc)
        return x
    return sut


def bench_pattern(pattern: str, batch: int, variant: str, size: int, layers: int,
                  s: Settings) -> Tuple[Dict[str, Latency], Dict[str, float], List[str], float]:
    rng = np.random.default_rng(0)
    integer = variant == "int8"
    ws = [weights(pattern, rng, size, integer) for _ in range(layers)]
    if integer:
        samples = [rng.integers(-128, 128, (batch, size)).astype(np.int8) for _ in range(8)]
        # keep activations spread over int8: scale by 1 / (typical |acc| / 64)
        scales = [64.0 / max(1.0, float(np.sqrt(np.count_nonzero(w, axis=1).mean())) * 127 * 75) for w in ws]
    else:
        samples = [rng.standard_normal((batch, size)).astype(np.float32) for _ in range(8)]
    if integer:
        make = lambda kind: int8_model(ws, kind, scales, batch)  # noqa: E731
    else:
        make = lambda kind: float_model(ws, kind, batch)  # noqa: E731
    t0 = time.perf_counter()
    plan_sut, plans = make("auto")
    load_ms = (time.perf_counter() - t0) * 1e3 / layers
    kinds = [p.kind for p in plans]
    dense_sut, _ = make("dense")
    systems = {"dense": dense_sut}
    if integer:
        systems["backend"] = int8_backend_model(ws, scales)
    if pattern != "0%":
        systems["sparse"] = make(_sparse_kind(pattern))[0]
    systems["plan"] = plan_sut
    out, raw = run(systems, samples, s)
    ratios = {name: paired_speedup(raw, "dense", name) for name in systems}
    if integer:
        ratios["plan_vs_backend"] = paired_speedup(raw, "backend", "plan")
    ref = dense_sut(samples[0])
    got = plan_sut(samples[0])
    if integer:
        assert np.array_equal(got, ref), f"{pattern} int8 batch {batch}: plan differs from dense"
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
    return out, ratios, kinds, load_ms


def main(argv=None) -> Dict[str, str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--variants", default="float32,int8")
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--min-count", type=int, default=50)
    ap.add_argument("--min-duration-ms", type=float, default=300.0)
    args = ap.parse_args(argv)
    s = Settings(args.min_count, args.min_duration_ms)

    null = run({"null": lambda x: x}, [np.zeros((1, args.size), np.float32)], s)[0]["null"]
    print(f"{args.layers} FC layers {args.size}x{args.size}, single thread, NumPy {np.__version__}; "
          f"{s.min_count} queries / {s.min_duration_ms:.0f} ms minimum; null system p50 {null.p50_us:.2f} us")
    print(f"{'pattern':9s} {'variant':7s} {'batch':>5s} {'plan kinds':12s} {'dense p50':>9s} {'backend':>8s} "
          f"{'sparse':>8s} {'plan p50':>8s} {'plan p90':>8s} {'n':>5s} {'sparse x':>8s} {'plan x':>7s} "
          f"{'vs backend':>10s} {'load ms':>7s}")
    record: Dict[str, str] = {}
    for variant in args.variants.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for pattern in args.patterns.split(","):
                lat, ratio, kinds, load_ms = bench_pattern(pattern, batch, variant, args.size, args.layers, s)
                sp, be = lat.get("sparse"), lat.get("backend")
                cell = lambda v, fmt=".1f": "" if v is None else format(v, fmt)  # noqa: E731
                print(f"{pattern:9s} {variant:7s} {batch:5d} {'/'.join(sorted(set(kinds))):12s} "
                      f"{lat['dense'].p50_us:9.1f} {cell(be and be.p50_us):>8s} {cell(sp and sp.p50_us):>8s} "
                      f"{lat['plan'].p50_us:8.1f} {lat['plan'].p90_us:8.1f} {lat['plan'].count:5d} "
                      f"{cell(ratio.get('sparse'), '.2f'):>8s} {ratio['plan']:7.2f} "
                      f"{cell(ratio.get('plan_vs_backend'), '.2f'):>10s} {load_ms:7.1f}", flush=True)
                key = pattern.replace("%", "pct").replace(":", "of").replace("@", "_")
                tag = ("" if variant == "float32" else "_int8") + ("" if batch == 1 else f"_b{batch}")
                record[f"fc_{key}_speedup{tag}"] = f"{ratio['plan']:.2f}"
                if sp is not None:
                    record[f"fc_{key}_sparse_vs_dense{tag}"] = f"{ratio['sparse']:.2f}"
                if be is not None:
                    record[f"fc_{key}_speedup_vs_backend{tag}"] = f"{ratio['plan_vs_backend']:.2f}"
                record[f"load_ms_per_layer_{key}{tag}"] = f"{load_ms:.1f}"
    headline = {k: v for k, v in record.items() if not k.startswith("load_ms")}
    if "fc_90pct_speedup" in record:
        headline = {"fc_90pct_speedup": record["fc_90pct_speedup"], **headline}
        headline["load_ms_per_layer_90pct"] = record["load_ms_per_layer_90pct"]
    print("sparse_speed " + " ".join(f"{k}={v}" for k, v in headline.items()))
    return record


if __name__ == "__main__":
    main()

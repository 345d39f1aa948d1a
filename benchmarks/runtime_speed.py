"""Single-thread latency of the NumPy backend relative to LiteRT, per conformance model and variant.

    python benchmarks/runtime_speed.py [--models mobilenet_v2,ds_cnn] [--variants int8,float32]
                                       [--min-count 20] [--min-duration-ms 1500] [--rounds 3]

Built like MLPerf loadgen's single-stream scenario: a *sample source* (seeded inputs drawn from the
model's input range, cycled), a *system under test* (a callable running one inference) and
*settings*; a run ends only when both the minimum query count and the minimum duration are met.
The systems take turns (`--rounds`, default 3, each with a share of the settings) so that a
shared host's drifting background load does not favour one of them.
Latencies are perf_counter_ns per query. A null system (a call that does nothing) measures the
harness's own overhead. Systems:

  numpy     - edgewise.runtime.load(path, backend="numpy"); BLAS limited to one thread;
  builtin   - ai_edge_litert, BUILTIN_WITHOUT_DEFAULT_DELEGATES, num_threads=1 (the reference kernels);
  xnnpack   - ai_edge_litert, default resolver (XNNPACK), num_threads=1.

`--via-bench` measures the same files through `edgewise bench --device local --threads 1` instead
(the agent's own timing loop over `edgewise.runtime.load(...).run`, one process per system, backends
numpy / litert-builtin / litert), as a user would on a device; same record, systems in turn.

The table gives p50/p90/p99 and counts; the ratios are numpy p50 / LiteRT p50. The last line is
one `key=value` record: per model and variant the ratios, then `worst_<variant>_vs_builtin`, the
largest ratio over the models. Targets: numpy <= 2x builtin on every model in int8 and float32,
<= 3x in dynamic range (see benchmarks/README.md for where they are not met, and why).
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS: single thread, like the LiteRT runs
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable, Dict, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

from edgewise.runtime.records import Record  # noqa: E402
from _conformance import conformance  # noqa: E402


@dataclass(frozen=True)
class Settings(Record):
    min_query_count: int = 20
    min_duration_ms: int = 1500
    max_duration_ms: int = 20000  # a slow system stops here even if the count is not met


@dataclass(frozen=True)
class Result(Record):
    system: str
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float


def single_stream_latencies(sut: Callable[[object], object], samples: List[object], s: Settings) -> List[int]:
    """Latencies (ns) of back-to-back queries until both the minimum count and duration are met."""
    sut(samples[0])  # warm-up query, not timed (first-call allocations, lazy imports)
    lat: List[int] = []
    start = time.perf_counter_ns()
    min_ns, max_ns = s.min_duration_ms * 1_000_000, s.max_duration_ms * 1_000_000
    while True:
        elapsed = time.perf_counter_ns() - start
        if (len(lat) >= s.min_query_count and elapsed >= min_ns) or (lat and elapsed >= max_ns):
            break
        x = samples[len(lat) % len(samples)]
        t0 = time.perf_counter_ns()
        sut(x)
        lat.append(time.perf_counter_ns() - t0)
    return lat


def summarize(system: str, lat: List[int]) -> Result:
    p50, p90, p99 = np.percentile(np.array(lat, np.float64) / 1e6, [50, 90, 99])
    return Result(system, len(lat), float(p50), float(p90), float(p99))


def run_interleaved(systems: Dict[str, Callable], samples: List[object], s: Settings, rounds: int) -> Dict[str, Result]:
    """Each system in turn, `rounds` times, with the settings split across rounds.

    On a shared host the background load drifts over seconds; alternating the systems spreads that
    drift over all of them instead of charging it to whichever ran during a busy spell.
    """
    part = Settings(max(1, -(-s.min_query_count // rounds)), max(1, s.min_duration_ms // rounds),
                    max(1, s.max_duration_ms // rounds))
    lat: Dict[str, List[int]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, sut in systems.items():
            lat[name].extend(single_stream_latencies(sut, samples, part))
    return {name: summarize(name, v) for name, v in lat.items()}


def _systems(path: str, oracles) -> Dict[str, Optional[Callable]]:
    from edgewise.runtime import EdgewiseRuntimeError, load

    systems: Dict[str, Optional[Callable]] = {}
    try:
        m = load(path, backend="numpy")
        systems["numpy"] = lambda feeds: m.run(feeds)
    except EdgewiseRuntimeError as e:
        print(f"    numpy: {e}")
        systems["numpy"] = None
    for name, builtin in (("builtin", True), ("xnnpack", False)):
        it = oracles.litert_interpreter(path, builtin=builtin, num_threads=1)
        systems[name] = (lambda it_: lambda feeds: oracles.litert_run(it_, feeds))(it)
    return systems


def bench_via_cli(path: str, backend: str, s: Settings) -> Optional[Result]:
    """One `edgewise bench --device local` run of `path` on `backend`, one thread; None if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        cmd = [sys.executable, "-c", "import sys; from edgewise.cli import main; sys.exit(main())", "bench", path, "--device", "local", "--backend", backend,
               "--threads", "1", "--runs", str(s.min_query_count), "--min-duration", str(s.min_duration_ms / 1000),
               "--no-save", "--json", out]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not os.path.exists(out):
            print(f"    {backend}: edgewise bench failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
            return None
        with open(out) as f:
            lat = json.load(f)["latency_ms"]
    return Result(backend, int(lat["n"]), float(lat["p50"]), float(lat["p90"]), float(lat["p99"]))


def run_via_bench(path: str, s: Settings, rounds: int) -> Dict[str, Result]:
    names = {"numpy": "numpy", "builtin": "litert-builtin", "xnnpack": "litert"}
    part = Settings(max(1, -(-s.min_query_count // rounds)), max(1, s.min_duration_ms // rounds), s.max_duration_ms)
    got: Dict[str, List[Result]] = {k: [] for k in names}
    for _ in range(rounds):
        for k, backend in names.items():
            r = bench_via_cli(path, backend, part)
            if r is not None:
                got[k].append(r)
    # the median round's p50 per system (each round is its own process and sample set)
    return {k: sorted(v, key=lambda r: r.p50_ms)[len(v) // 2] for k, v in got.items() if v}


def main(argv=None) -> Dict[str, Dict[str, Result]]:
    models, convert, oracles = conformance()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(models.CONFORMANCE_MODELS))
    ap.add_argument("--variants", default=",".join(convert.TFLITE_VARIANTS))
    ap.add_argument("--min-count", type=int, default=20)
    ap.add_argument("--min-duration-ms", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the systems this many times")
    ap.add_argument("--via-bench", action="store_true",
                    help="measure through `edgewise bench --device local` (one process per system and round)")
    args = ap.parse_args(argv)
    settings = Settings(args.min_count, args.min_duration_ms)
    store = convert.ModelStore()

    null = summarize("null", single_stream_latencies(lambda x: None, [None], settings))
    print(f"null system: p50 {null.p50_ms * 1e3:.2f} us over {null.count} queries (harness overhead)")
    print(f"{'model':20s} {'variant':8s} {'system':8s} {'count':>6s} {'p50 ms':>9s} {'p90 ms':>9s} {'p99 ms':>9s}"
          f" {'x builtin':>10s} {'x xnnpack':>10s}")
    all_results: Dict[str, Dict[str, Result]] = {}
    record: Dict[str, str] = {}
    for name in args.models.split(","):
        spec = models.CONFORMANCE_MODELS[name]
        for variant in args.variants.split(","):
            path = str(store.path(name, "tflite", variant))
            if args.via_bench:
                results = run_via_bench(path, settings, args.rounds)
            else:
                systems = _systems(path, oracles)
                ref_it = oracles.litert_interpreter(path, builtin=True)
                rng = np.random.default_rng(0)
                samples = [oracles.litert_inputs(ref_it, [spec.input.sample(rng)]) for _ in range(8)]
                results = run_interleaved({k: v for k, v in systems.items() if v is not None}, samples, settings,
                                          args.rounds)
            all_results[f"{name}/{variant}"] = results
            for sys_name, r in results.items():
                ratio_b = ratio_x = ""
                if sys_name == "numpy" and "builtin" in results and "xnnpack" in results:
                    ratio_b = f"{r.p50_ms / results['builtin'].p50_ms:.2f}"
                    ratio_x = f"{r.p50_ms / results['xnnpack'].p50_ms:.2f}"
                    record[f"{name}_{variant}_vs_builtin"] = ratio_b
                    record[f"{name}_{variant}_vs_xnnpack"] = ratio_x
                print(f"{name:20s} {variant:8s} {sys_name:8s} {r.count:6d} {r.p50_ms:9.3f} {r.p90_ms:9.3f} "
                      f"{r.p99_ms:9.3f} {ratio_b:>10s} {ratio_x:>10s}", flush=True)
            if "numpy" not in results:
                record[f"{name}_{variant}_vs_builtin"] = "unsupported"
    for variant in args.variants.split(","):
        ratios = [float(v) for k, v in record.items() if k.endswith(f"_{variant}_vs_builtin") and v != "unsupported"]
        if ratios:
            record[f"worst_{variant}_vs_builtin"] = f"{max(ratios):.2f}"
    print("speed " + " ".join(f"{k}={v}" for k, v in record.items()))
    return all_results


if __name__ == "__main__":
    main()

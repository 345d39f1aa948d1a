"""The benchmark agent: runs on the device, measures one model, streams JSON lines to stdout.

It is shipped inside the deployment zip next to `edgewise.runtime` and started as
`python3 -c BOOTSTRAP payload.zip ARGS`, so the device needs Python 3.9+ and NumPy and nothing
else. Only the standard library is imported at module level: NumPy is checked first, inside
`main()`, so a device without it gets a message saying what to install instead of a traceback.

The measurement follows MLPerf loadgen (https://github.com/mlcommons/inference/tree/master/loadgen):
a *sample source* (a fixed pool of seeded random inputs, cycled), the *system under test*
(`Model.run`), and *settings*; every latency is `time.perf_counter_ns()` around one call, and the
run ends only when BOTH the minimum count and the minimum duration are reached.

Protocol: every message is one line `@edgewise {json}` on stdout (other output on stdout, such as a
login banner, is ignored by the host). Latencies are sent in batches, so if the link drops the host
keeps every batch already received. Events: hello, loaded, power, idle, warmup, batch, done, error.

Power (see `edgewise.device_tests.power`): with the model loaded, a sampler thread reads the best
power source for an idle baseline (`--idle-s`), then keeps sampling through the timed runs; a
source that itself costs CPU (termux-battery-status) is instead sampled in a separate phase after
the timed runs, so the latencies are never measured beside it. The trace goes in `done`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import traceback

PREFIX = "@edgewise "
PROTOCOL = 1

EXIT_OK = 0
EXIT_NUMPY_MISSING = 3
EXIT_MODEL_ERROR = 4
EXIT_RUN_ERROR = 5
EXIT_PYTHON_TOO_OLD = 6

NUMPY_HELP = (
    "NumPy is not installed for {python} on this device; the edgewise agent needs it (and nothing else). "
    "Install it with one of: Debian / Ubuntu / Raspberry Pi OS: `sudo apt install python3-numpy` "
    "(or `{python} -m pip install numpy`); Termux: `pkg install python-numpy`; "
    "Alpine: `apk add py3-numpy`. Then run the benchmark again. A device without internet: "
    "`edgewise bench ... --install-deps` fetches NumPy on the host and installs it into edgewise's own cache "
    "folder on the device."
)

#: Started with `python -c BOOTSTRAP payload.zip ARGS...`: checks the Python version before any
#: import that could fail with a confusing SyntaxError, then imports the agent from the zip. The
#: cache's `site-packages` (filled by `bench --install-deps`) comes last on sys.path, so the
#: device's own packages win where it has them.
BOOTSTRAP = (
    "import sys\n"
    "if sys.version_info < (3, 9):\n"
    "    sys.stderr.write('edgewise: the device runs Python %s; the agent needs Python 3.9 or newer\\n'"
    " % sys.version.split()[0])\n"
    "    sys.exit(6)\n"
    "import os\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "site = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[1]))), 'site-packages')\n"
    "if os.path.isdir(site):\n"
    "    sys.path.append(site)\n"
    "from edgewise.device_tests.agent import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def emit(event: str, **fields) -> None:
    fields["event"] = event
    sys.stdout.write(PREFIX + json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(prog="edgewise-agent", description="Benchmark one model on this device.")
    p.add_argument("--model", required=True)
    p.add_argument("--runs", type=int, default=50, help="minimum number of timed runs")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--min-duration-s", type=float, default=0.0, help="minimum timed duration")
    p.add_argument("--backend", default="auto")
    p.add_argument("--num-threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=4, help="distinct inputs in the sample pool")
    p.add_argument("--batch-s", type=float, default=0.25, help="send latencies at least this often")
    p.add_argument("--power", default="auto", help="auto, off, or the power source to use (a prefix: rapl, hwmon, ...)")
    p.add_argument("--idle-s", type=float, default=2.0, help="idle baseline before the run, with the model loaded")
    p.add_argument("--power-interval-s", type=float, default=0.05, help="power sampling period")
    p.add_argument("--energy-s", type=float, default=10.0,
                   help="length of the separate energy phase for intrusive sources (termux-battery-status)")
    p.add_argument("--sysfs-root", default="/", help="where the device's /sys is (a test points it at a fake tree)")
    return p.parse_args(argv)


def status_bytes(field: str, path: str = "/proc/self/status"):
    """A `kB` field of /proc/self/status (VmHWM, VmRSS) in bytes, or None where there is none."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    parts = line.split()
                    return int(parts[1]) * 1024 if len(parts) >= 2 and parts[1].isdigit() else None
    except OSError:
        return None
    return None


def read_text(path: str):
    """A small /proc file's text (status, smaps_rollup), or None where there is none: the host
    parses it with edgewise.device_tests.facts.memory, as every other fact."""
    try:
        with open(path) as f:
            return f.read(65536)
    except OSError:
        return None


def ru_maxrss_bytes():
    """Peak resident set size from getrusage: kilobytes on Linux, bytes on macOS."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def timer_overhead_ns(n: int = 2000) -> int:
    """Median cost of one perf_counter_ns() pair: loadgen's "null system under test" floor."""
    f = time.perf_counter_ns
    deltas = []
    for _ in range(n):
        a = f()
        b = f()
        deltas.append(b - a)
    deltas.sort()
    return deltas[len(deltas) // 2]


def make_inputs(np, specs, seed: int, count: int):
    """`count` input sets drawn from the specs: floats in [-1, 1), quantized ints over their whole
    range, other ints in [0, 10) (they are often indices), dynamic dimensions set to 1."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(max(1, count)):
        feeds = []
        for spec in specs:
            shape = tuple(d if isinstance(d, int) and d >= 0 else 1 for d in spec.shape)
            dt = np.dtype(spec.dtype)
            if dt.kind == "f":
                a = rng.uniform(-1.0, 1.0, size=shape).astype(dt)
            elif dt.kind in "iu" and spec.is_quantized:
                info = np.iinfo(dt)
                a = rng.integers(info.min, int(info.max) + 1, size=shape, dtype=np.int64).astype(dt)
            elif dt.kind in "iu":
                a = rng.integers(0, 10, size=shape).astype(dt)
            elif dt.kind == "b":
                a = rng.integers(0, 2, size=shape).astype(bool)
            else:
                raise TypeError(f"input {spec.name!r} has dtype {spec.dtype}, which the agent cannot generate")
            feeds.append(a)
        pool.append(feeds)
    return pool


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: Distribution name -> import name of the libraries `edgewise.runtime` can run a model on.
BACKEND_LIBRARIES = (("numpy", "numpy"), ("ai-edge-litert", "ai_edge_litert"), ("tflite-runtime", "tflite_runtime"),
                     ("onnxruntime", "onnxruntime"))


def environment() -> dict:
    """The interpreter, its environment (venv or not) and the backend libraries it can import.

    Versions come from the installed distributions' metadata, so nothing heavy is imported to
    name them; a library present but without metadata is reported as "unknown version".
    """
    import importlib.util
    from importlib import metadata

    libraries = {}
    for dist, module in BACKEND_LIBRARIES:
        if importlib.util.find_spec(module) is None:
            continue
        try:
            libraries[module] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # importable (from a zip, PYTHONPATH) but without metadata
            libraries[module] = "unknown version"
    base = getattr(sys, "base_prefix", sys.prefix)
    numpy_spec = importlib.util.find_spec("numpy")
    return {
        "numpy_path": os.path.dirname(numpy_spec.origin) if numpy_spec and numpy_spec.origin else None,
        "python_executable": sys.executable,
        "prefix": sys.prefix,
        "venv": sys.prefix if sys.prefix != base else None,
        "libraries": libraries,
    }


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import numpy as np
    except ImportError as e:
        message = NUMPY_HELP.format(python=sys.executable or "python3") + f" (import error: {e})"
        emit("error", kind="NumpyMissing", message=message)
        sys.stderr.write("edgewise: " + message + "\n")
        return EXIT_NUMPY_MISSING

    try:
        import edgewise.runtime as rt
    except Exception as e:  # e.g. a NumPy too old for the runtime: say so rather than die silently
        emit("error", kind="RuntimeImportError", message=f"cannot import edgewise.runtime with NumPy "
             f"{np.__version__}: {type(e).__name__}: {e}", traceback=traceback.format_exc())
        sys.stderr.write(traceback.format_exc())
        return EXIT_MODEL_ERROR

    emit(
        "hello",
        protocol=PROTOCOL,
        python=platform.python_version(),
        numpy=np.__version__,
        **environment(),
        runtime=os.path.dirname(os.path.abspath(rt.__file__)),
        machine=platform.machine(),
        pid=os.getpid(),
        rss_before_load_bytes=status_bytes("VmRSS"),
        proc_status=read_text("/proc/self/status"),
    )
    try:
        t0 = time.perf_counter_ns()
        model = rt.load(args.model, backend=args.backend, num_threads=args.num_threads)
        load_ns = time.perf_counter_ns() - t0
    except (rt.EdgewiseRuntimeError, ValueError) as e:
        emit("error", kind=type(e).__name__, message=str(e))
        sys.stderr.write(f"edgewise: {e}\n")
        return EXIT_MODEL_ERROR
    except Exception as e:  # a bug in a backend: report it with its traceback, then fail
        emit("error", kind=type(e).__name__, message=f"{args.model}: loading failed: {type(e).__name__}: {e}",
             traceback=traceback.format_exc())
        sys.stderr.write(traceback.format_exc())
        return EXIT_MODEL_ERROR
    emit(
        "loaded",
        backend=model.backend.to_dict(),
        format=model.format,
        inputs=[s.to_dict() for s in model.inputs],
        outputs=[s.to_dict() for s in model.outputs],
        model_sha256=sha256_file(args.model),
        model_bytes=os.path.getsize(args.model),
        load_ns=load_ns,
        rss_after_load_bytes=status_bytes("VmRSS"),
        proc_status=read_text("/proc/self/status"),
        smaps_rollup=read_text("/proc/self/smaps_rollup"),
    )
    try:
        return _measure(np, model, args)
    except BrokenPipeError:
        # The host is gone (link dropped): nobody to report to. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, as the Python docs on SIGPIPE advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_RUN_ERROR
    except Exception as e:  # reported to the host with the traceback, then a non-zero exit
        emit("error", kind=type(e).__name__, message=f"{args.model}: {e}", traceback=traceback.format_exc())
        sys.stderr.write(traceback.format_exc())
        return EXIT_RUN_ERROR


def _power_sampler(args):
    """(sampler or None, PowerTrace fields known before sampling)."""
    if args.power == "off":
        return None, {"notes": ("power measurement turned off (--power off)",)}
    from edgewise.device_tests.power.probes import discover
    from edgewise.device_tests.power.sampler import PowerSampler

    found = discover(args.sysfs_root)
    probes = [p for p in found.probes if args.power == "auto" or p.source.startswith(args.power)]
    if not probes:
        notes = tuple(found.notes) + (() if args.power == "auto" else (f"no usable power source {args.power!r}",))
        return None, {"notes": notes}
    probe = probes[0]
    skipped = tuple(f"also available: {p.source}" for p in probes[1:])
    sampler = PowerSampler(probe, args.power_interval_s)
    return sampler, {"source": probe.source, "kind": probe.kind, "note": probe.note, "intrusive": probe.intrusive,
                     "wrap_uj": probe.wrap_uj, "interval_s": sampler.interval_s, "notes": tuple(found.notes) + skipped}


def _sample_while(sampler, clock, seconds: float, work=None, limit_s: float = 300.0):
    """Keep the sampler running for `seconds` and until it has 3 samples in the window (slow
    sources), calling `work()` meanwhile if given; (start_ns, end_ns, calls)."""
    start = clock()
    calls = 0
    first = len(sampler.samples)
    while True:
        now = clock()
        if (now - start >= seconds * 1e9 and len(sampler.samples) - first >= 3) or now - start >= limit_s * 1e9:
            return start, now, calls
        if work is None:
            time.sleep(min(0.01, sampler.interval_s))
        else:
            work(calls)
            calls += 1


def _trace(sampler, known: dict, phases) -> dict:
    from edgewise.device_tests.power.energy import PowerTrace

    if sampler is None:
        return PowerTrace(**known).to_dict()
    samples = sampler.samples
    return PowerTrace(t_ns=tuple(s[0] for s in samples), values=tuple(s[1] for s in samples),
                      charging=tuple(s[2] for s in samples), phases=tuple(phases), errors=tuple(sampler.errors),
                      **known).to_dict()


def _measure(np, model, args) -> int:
    from edgewise.device_tests.power.energy import PowerPhase

    pool = make_inputs(np, model.inputs, args.seed, args.samples)
    clock = time.perf_counter_ns
    sampler, power_known = _power_sampler(args)
    phases = []
    if sampler is not None:
        emit("power", source=power_known["source"], note=power_known["note"], intrusive=power_known["intrusive"])
        sampler.start()
        i0, i1, _ = _sample_while(sampler, clock, args.idle_s)
        phases.append(PowerPhase("idle", i0, i1))
        if sampler.probe.intrusive:
            sampler.stop()
        emit("idle", start_ns=i0, end_ns=i1)
    warm = []
    for i in range(args.warmup):
        t0 = clock()
        model.run(pool[i % len(pool)])
        warm.append(clock() - t0)
    emit("warmup", latencies_ns=warm)

    min_ns = int(args.min_duration_s * 1e9)
    batch_ns = int(args.batch_s * 1e9)
    batch = []
    count = 0
    start = last_flush = clock()
    while True:
        x = pool[count % len(pool)]
        t0 = clock()
        model.run(x)
        t1 = clock()
        batch.append(t1 - t0)
        count += 1
        elapsed = t1 - start
        finished = count >= args.runs and elapsed >= min_ns
        if finished or t1 - last_flush >= batch_ns:
            emit("batch", latencies_ns=batch, count=count, elapsed_ns=elapsed)
            batch = []
            last_flush = t1
        if finished:
            break
    if sampler is not None and not sampler.probe.intrusive:
        phases.append(PowerPhase("run", start, t1, count))
        sampler.stop()
    elif sampler is not None:  # a source that disturbs the CPU: its own phase, after the timed runs
        sampler.start()
        e0, e1, n = _sample_while(sampler, clock, args.energy_s, work=lambda i: model.run(pool[i % len(pool)]))
        sampler.stop()
        phases.append(PowerPhase("run", e0, e1, n))
    emit(
        "done",
        power=_trace(sampler, power_known, phases),
        count=count,
        elapsed_ns=elapsed,
        ru_maxrss_bytes=ru_maxrss_bytes(),
        vmhwm_bytes=status_bytes("VmHWM"),
        proc_status=read_text("/proc/self/status"),
        smaps_rollup=read_text("/proc/self/smaps_rollup"),
        timer_overhead_ns=timer_overhead_ns(),
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""The `edgewise` command line: demo, optimize, run, inspect, bench, results.

Each subcommand imports what it needs when it runs, so `edgewise run` and `edgewise inspect` work
on a device that has only NumPy, and host commands say which extra is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from .progress import StepPrinter, native_output_to, quiet

EXIT_ERROR = 1


def _progress(args, stream=None):
    return quiet if getattr(args, "json", None) is True else StepPrinter(stream)


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


# -- demo / optimize -------------------------------------------------------------------------
def _require_host(feature: str) -> None:
    from ._extras import require

    for module in ("tensorflow", "keras", "onnx", "onnxruntime", "tf2onnx"):
        require(module, feature)


def cmd_demo(args) -> int:
    with native_output_to(os.path.join(args.out, "edgewise.log")) as console:
        _require_host("edgewise demo")
        from .demo import run_demo
        from .report import summary_table

        report = run_demo(out_dir=args.out, progress=_progress(args, console))
    if args.json:
        _print_json(report.to_dict())
    else:
        print(summary_table(report))
        print(f"\nwrote {os.path.join(args.out, 'report.json')} and {os.path.join(args.out, 'report.html')}"
              f" (converter logs: {os.path.join(args.out, 'edgewise.log')})")
    return 0


def cmd_optimize(args) -> int:
    with native_output_to(os.path.join(args.out, "edgewise.log")) as console:
        _require_host("edgewise optimize")
        from .pipeline import optimize
        from .report import summary_table

        report = optimize(
            args.model, args.calib, args.eval, prune=args.prune, quantize=args.quantize, out_dir=args.out,
            progress=_progress(args, console), train=args.train,
        )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(summary_table(report))
        print(f"\nwrote {os.path.join(args.out, 'report.json')}")
    return 0


# -- run ---------------------------------------------------------------------------------------
def cmd_run(args) -> int:
    import numpy as np

    from .fileio import save_arrays_atomic
    from .runtime import load

    model = load(args.model, backend=args.backend, num_threads=args.threads)
    from .runtime_io import load_input_file

    feeds = load_input_file(args.input, [s.name for s in model.inputs])
    outs = model.run(feeds, quantize=args.quantize)
    if args.output:
        save_arrays_atomic(args.output, outs)
    summary = {
        "model": args.model,
        "backend": model.backend.to_dict(),
        "outputs": [
            {"name": s.name, "shape": list(o.shape), "dtype": str(o.dtype),
             "min": float(np.min(o)) if o.size else None, "max": float(np.max(o)) if o.size else None}
            for s, o in zip(model.outputs, outs)
        ],
        "written": args.output,
    }
    if args.json:
        _print_json(summary)
    else:
        print(f"backend: {model.backend}")
        for o in summary["outputs"]:
            print(f"output {o['name']}: shape {tuple(o['shape'])} {o['dtype']} range [{o['min']:.6g}, {o['max']:.6g}]")
        if args.output:
            print(f"wrote {args.output}")
    return 0


# -- inspect -----------------------------------------------------------------------------------
def cmd_inspect(args) -> int:
    from .inspection import format_summary, inspect_model

    summary = inspect_model(args.model)
    if args.json:
        _print_json(summary.to_dict())
    else:
        print(format_summary(summary))
    return 0


# -- bench -------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    from .device_tests.bench import BenchSettings, run_benchmark

    settings = BenchSettings(
        runs=args.runs, warmup=args.warmup, min_duration_s=args.min_duration, backend=args.backend,
        num_threads=args.threads,
    )
    result = run_benchmark(
        args.model, device=args.device, settings=settings, identity=args.identity, known_hosts=args.known_hosts,
        accept_new_host_key=args.accept_new_host_key, python=args.python, progress=StepPrinter(),
    )
    if args.save_results:
        from .device_tests.results import ResultStore

        saved = ResultStore(args.save_results).save(result)
        print(f"saved {saved}", file=sys.stderr)
    if args.json:
        from .fileio import write_json_atomic

        write_json_atomic(args.json, result.to_dict())
    lat = result.latency_ms
    print(f"device:  {args.device}")
    print(f"backend: {result.backend.get('name')} ({result.backend.get('reason')})")
    print(f"latency: p50 {lat.p50:.3f} ms  p90 {lat.p90:.3f} ms  p99 {lat.p99:.3f} ms  "
          f"mean {lat.mean:.3f} ± {lat.std:.3f} ms  (n={lat.n})")
    if result.peak_rss_bytes:
        print(f"peak RSS: {result.peak_rss_bytes / 2**20:.1f} MiB")
    if getattr(result, "partial", False):
        print(f"PARTIAL result: {result.partial_reason}")
        return EXIT_ERROR
    if args.json:
        print(f"wrote {args.json}")
    return 0


# -- results ---------------------------------------------------------------------------------
def cmd_results(args) -> int:
    from .device_tests.results import ResultStore, compare

    store = ResultStore(args.dir)
    if args.action == "list":
        entries = store.list()
        if args.json:
            _print_json([e.to_dict() for e in entries])
            return 0
        if not entries:
            print(f"no results in {args.dir}")
            return 0
        rows = [(e.name, e.device, e.model, e.backend, "-" if e.p50_ms is None else f"{e.p50_ms:.3f}", str(e.n),
                 "partial" if e.partial else "") for e in entries]
        header = ("result", "device", "model", "backend", "p50 ms", "n", "")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        for r in [header] + rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        return 0
    if len(args.names) != 2:
        raise ValueError("results compare takes two results: BASELINE CANDIDATE (names from `results list`, or paths)")
    comparison = compare(store.load(args.names[0]), store.load(args.names[1]))
    if args.json:
        _print_json(comparison.to_dict())
    else:
        print(comparison)
    return 0


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgewise", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser("demo", help="train, prune, quantize, convert, run and benchmark a digits CNN end to end")
    d.add_argument("--out", default="out", help="output folder (default: out)")
    d.add_argument("--json", action="store_true", help="print report.json to stdout instead of the table")
    d.set_defaults(func=cmd_demo)

    o = sub.add_parser("optimize", help="compress and convert a Keras model; writes artifacts and report.json")
    o.add_argument("model", help="a .keras file or a SavedModel folder")
    o.add_argument("--calib", required=True, help=".npz with array x: calibration inputs")
    o.add_argument("--eval", required=True, help=".npz with arrays x and y: held-out data for accuracy")
    o.add_argument("--train", help=".npz with x and y to fine-tune on while pruning (default: the --calib data)")
    o.add_argument("--prune", type=float, default=None, metavar="SPARSITY", help="target sparsity in [0, 1)")
    o.add_argument("--quantize", choices=["int8"], default=None)
    o.add_argument("--out", required=True, help="output folder")
    o.add_argument("--json", action="store_true", help="print report.json to stdout")
    o.set_defaults(func=cmd_optimize)

    r = sub.add_parser("run", help="run a .tflite or .onnx model on an input")
    r.add_argument("model")
    r.add_argument("--input", required=True, help=".npy (single input) or .npz (arrays named by input)")
    r.add_argument("--backend", default="auto", choices=["auto", "numpy", "litert", "litert-builtin", "onnxruntime"])
    r.add_argument("--output", help="write outputs to .npy (one output) or .npz")
    r.add_argument("--quantize", action="store_true", help="quantize float inputs for int8 models, dequantize outputs")
    r.add_argument("--threads", type=int, default=None)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("inspect", help="inputs, outputs, ops, size, sparsity and quantization of a model")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_inspect)

    b = sub.add_parser("bench", help="measure latency and memory on a device over SSH (or locally)")
    b.add_argument("model")
    b.add_argument("--device", required=True, help="ssh://USER@HOST[:PORT] or local")
    b.add_argument("--identity", help="private key file for SSH")
    b.add_argument("--known-hosts", help="known_hosts file used to verify the device (default ~/.ssh/known_hosts)")
    b.add_argument("--accept-new-host-key", action="store_true",
                   help="trust and record the device's key if it is not yet known (a changed key is always refused)")
    b.add_argument("--python", default="python3", help="Python interpreter on the device (default python3)")
    b.add_argument("--runs", type=int, default=100, help="minimum timed runs (default 100)")
    b.add_argument("--warmup", type=int, default=10, help="warm-up runs (default 10)")
    b.add_argument("--min-duration", type=float, default=1.0, metavar="SECONDS",
                   help="minimum timed duration; the run ends when both minimums are met (default 1.0)")
    b.add_argument("--backend", default="auto", choices=["auto", "numpy", "litert", "litert-builtin", "onnxruntime"])
    b.add_argument("--threads", type=int, default=None)
    b.add_argument("--json", metavar="OUT.json", help="write the full result as JSON")
    b.add_argument("--save-results", metavar="DIR", help="also keep the result in a results folder")
    b.set_defaults(func=cmd_bench)

    rs = sub.add_parser("results", help="list the benchmark results kept with --save-results, or compare two")
    rs.add_argument("action", choices=["list", "compare"])
    rs.add_argument("names", nargs="*", help="for compare: BASELINE CANDIDATE (result names or paths)")
    rs.add_argument("--dir", default="results", help="results folder (default: results)")
    rs.add_argument("--json", action="store_true")
    rs.set_defaults(func=cmd_results)

    import importlib

    for name in COMMAND_MODULES:  # each adds its subcommands: register(subparsers)
        importlib.import_module(name).register(sub)
    return p


# Command groups that live in their own modules under sdk/commands/ (one module per group, each with
# `register(subparsers)`; its handlers import what they need when they run).
COMMAND_MODULES: tuple = (
    "edgewise.commands.convert",
)


def _version() -> str:
    from . import __version__

    return f"edgewise {__version__}"


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from ._extras import MissingExtraError
    from .converters.errors import ConversionError
    from .device_tests.errors import DeviceError
    from .runtime.errors import EdgewiseRuntimeError

    known = (EdgewiseRuntimeError, MissingExtraError, ConversionError, DeviceError, FileNotFoundError, ValueError)
    try:
        return args.func(args)
    except known as e:
        print(f"edgewise {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"edgewise {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `edgewise` command line: demo, optimize, convert, run, inspect, pack, unpack, bench, results, devices.

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
from .runtime.model import BACKENDS

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


def _optimize_settings(args):
    from .pipeline import Search, Settings
    from .search import Bounds, parse_size

    settings = Settings(formats=tuple(args.formats.split(",")), benchmark=not args.no_benchmark,
                        max_accuracy_drop=args.max_accuracy_drop, seed=args.seed, sensitivity=args.sensitivity)
    searching = args.max_size is not None or args.max_latency_ms is not None or args.trials is not None
    if not searching:
        for flag in ("storage", "study"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag} belongs to a budget search (--max-size, --max-latency-ms or --trials)")
        return settings, None
    if args.recipe or args.prune is not None or args.quantize is not None:
        raise ValueError("a budget search (--max-size/--max-latency-ms/--trials) finds the recipe itself; "
                         "drop --recipe/--prune/--quantize")
    bounds = Bounds(args.max_accuracy_drop, parse_size(args.max_size) if args.max_size else None, args.max_latency_ms)
    return settings, Search(bounds, args.trials or 20, args.storage, args.study, args.sampler, args.search_epochs)


def cmd_optimize(args) -> int:
    settings, search = _optimize_settings(args)  # argument errors before any output folder exists
    with native_output_to(os.path.join(args.out, "edgewise.log")) as console:
        _require_host("edgewise optimize")
        from .pipeline import optimize
        from .report import summary_table

        report = optimize(
            args.model, args.calib, args.eval, args.recipe, train=args.train, out_dir=args.out, settings=settings,
            search=search, progress=_progress(args, console), prune=args.prune, quantize=args.quantize, to=args.to,
        )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(summary_table(report))
        print(f"\nwrote {os.path.join(args.out, 'report.json')} and {os.path.join(args.out, 'report.html')}")
    if report.error:
        print(f"edgewise optimize: {report.error}", file=sys.stderr)
        return EXIT_ERROR
    return 0


# -- run ---------------------------------------------------------------------------------------
def cmd_run(args) -> int:
    import numpy as np

    from .fileio import save_arrays_atomic
    from .runtime import load

    model = load(args.model, backend=args.backend, num_threads=args.threads)
    from .inputs import load_input_file

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
    from .runtime.summary import format_summary, inspect_model

    summary = inspect_model(args.model)
    if args.json:
        _print_json(summary.to_dict())
    else:
        print(format_summary(summary))
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

    o = sub.add_parser("optimize", help="compress and convert a Keras (or ONNX) model by a recipe, or search for the smallest "
                                        "one within bounds; writes artifacts, report.json and report.html")
    o.add_argument("model", help="a .keras file, a SavedModel folder, or an .onnx file (post-training steps only: "
                                 "prune, cluster, quantize int8)")
    o.add_argument("--calib", required=True, help=".npz with array x: calibration inputs")
    o.add_argument("--eval", required=True, help=".npz with arrays x and y: held-out data for accuracy")
    o.add_argument("--train", help=".npz with x and y to fine-tune on (default: the --calib data)")
    o.add_argument("--recipe", metavar="RECIPE.json", help="the steps to run, as JSON or YAML (see README)")
    o.add_argument("--prune", type=float, default=None, metavar="SPARSITY",
                   help="shorthand recipe: magnitude pruning to this sparsity in (0, 1), 3 epochs of fine-tuning")
    from .steps.quantize import MODES as QUANTIZE_MODES  # NumPy-light: no TensorFlow at parse time

    o.add_argument("--quantize", choices=list(QUANTIZE_MODES), default=None,
                   help="shorthand recipe: then quantize (int8: full integer; float16; dynamic: int8 weights, float "
                        "activations; int16x8: int16 activations, int8 weights); ONNX input: int8 only")
    o.add_argument("--max-accuracy-drop", type=float, default=1.0, metavar="POINTS",
                   help="accuracy guard: points of held-out accuracy a step may lose (default 1); a step that loses "
                        "more fine-tunes longer, then stops the run. In a search: the bound on the total drop")
    o.add_argument("--seed", type=int, default=0, help="seed of every step and of the search (default 0)")
    o.add_argument("--sensitivity", action="store_true", help="probe each layer alone first; table and plot in the report")
    o.add_argument("--formats", default="tflite,onnx", help="float reference files to write (default tflite,onnx)")
    o.add_argument("--to", choices=["onnx", "tflite"], default=None,
                   help="ONNX input only: 'tflite' also converts the int8 result through onnx2tf (the onnx2tf extra)")
    o.add_argument("--no-benchmark", action="store_true", help="skip the latency benchmark of each file")
    s_ = o.add_argument_group("budget search (any of these starts one)")
    s_.add_argument("--max-size", metavar="SIZE", help="largest deployable file, e.g. 40KB")
    s_.add_argument("--max-latency-ms", type=float, metavar="MS", help="largest p50 latency on this machine")
    s_.add_argument("--trials", type=int, help="trials in the study, counting those already in its storage (default 20)")
    s_.add_argument("--storage", metavar="URL", help="Optuna RDB storage URL shared by several machines "
                                                     "(default: sqlite in --out, so a search resumes)")
    s_.add_argument("--study", help="study name in the storage (default edgewise-search)")
    s_.add_argument("--sampler", choices=["tpe", "nsga2"], default="tpe", help="multi-objective sampler (default tpe)")
    s_.add_argument("--search-epochs", type=int, default=2, help="fine-tuning epochs per trial (default 2)")
    o.add_argument("--out", required=True, help="output folder")
    o.add_argument("--json", action="store_true", help="print report.json to stdout")
    o.set_defaults(func=cmd_optimize)

    r = sub.add_parser("run", help="run a .tflite, .onnx or .ewb model on an input")
    r.add_argument("model")
    r.add_argument("--input", required=True, help=".npy (single input) or .npz (arrays named by input)")
    r.add_argument("--backend", default="auto", choices=BACKENDS)
    r.add_argument("--output", help="write outputs to .npy (one output) or .npz")
    r.add_argument("--quantize", action="store_true", help="quantize float inputs for int8 models, dequantize outputs")
    r.add_argument("--threads", type=int, default=None)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("inspect", help="inputs, outputs, ops, size, sparsity and quantization of a model")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_inspect)

    import importlib

    for name in COMMAND_MODULES:  # each adds its subcommands: register(subparsers)
        importlib.import_module(name).register(sub)
    return p


# Command groups that live in their own modules under sdk/commands/ (one module per group, each with
# `register(subparsers)`; its handlers import what they need when they run).
COMMAND_MODULES: tuple = (
    "edgewise.commands.devices",
    "edgewise.commands.bundle",
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
    from .steps.runner import AccuracyGuardError

    known = (EdgewiseRuntimeError, MissingExtraError, ConversionError, DeviceError, FileNotFoundError, ValueError,
             AccuracyGuardError)
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

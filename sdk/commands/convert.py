"""`edgewise convert MODEL --to tflite|onnx --out PATH`: one verified conversion from the command line.

Everything is done by `edgewise.converters.convert`; this module parses arguments, keeps the
converters' console chatter in a log next to the output, and prints what was written: specs
(batch size, dynamic dimensions, layout), the verification per output, which runtimes run it,
and with `--explain` the per-layer error of a quantized file.
"""
from __future__ import annotations

import argparse
import os

from edgewise.fileio import write_json_atomic

EXIT_ERROR = 1


def register(sub) -> None:
    from edgewise.converters.convert import QUANTIZE_MODES, TARGETS

    c = sub.add_parser("convert", help="convert a Keras, SavedModel or ONNX model to TFLite or ONNX, verified",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Convert MODEL (.keras, .h5, SavedModel folder, .onnx) and write --out only if "
                                   "it matches the source on the given samples.")
    c.add_argument("model", help=".keras, .h5 or .onnx file, or a SavedModel folder")
    c.add_argument("--to", required=True, choices=TARGETS)
    c.add_argument("--quantize", default="none", choices=QUANTIZE_MODES,
                   help="TFLite: all; ONNX: none or int8 (onnxruntime static quantization)")
    c.add_argument("--calib", help=".npz with 'x' or one array per input name: quantization ranges and verification")
    c.add_argument("--eval", help=".npz of held-out samples, also verified on")
    c.add_argument("--out", required=True, help="the file to write (left untouched if verification fails)")
    c.add_argument("--explain", action="store_true", help="per-layer error of a quantized file (NumPy backend)")
    c.add_argument("--json", help="write the full result (specs, verification, layers) as JSON here")
    c.add_argument("--input-type", default="int8", choices=("int8", "uint8", "float32"), help="TFLite int8 input")
    c.add_argument("--output-type", default="int8", choices=("int8", "uint8", "float32"), help="TFLite int8 output")
    c.add_argument("--per-tensor", action="store_true", help="per-tensor weight scales instead of per-channel")
    c.add_argument("--sparse", default="auto", choices=("auto", "never", "always"),
                   help="TFLite sparse tensor encoding; auto keeps it only when the file gets smaller")
    c.add_argument("--onnx-format", default="qdq", choices=("qdq", "qoperator"))
    c.add_argument("--calibrate", default="minmax", choices=("minmax", "entropy", "percentile"),
                   help="ONNX int8 activation range method")
    c.add_argument("--log", help="where converter console output goes (default: next to --out, .convert.log)")
    c.set_defaults(func=cmd_convert)


def cmd_convert(args) -> int:
    from edgewise.converters import ConversionError, OnnxQuantOptions, TFLiteOptions, convert
    from edgewise.progress import native_output_to

    log = args.log or os.path.splitext(os.path.abspath(args.out))[0] + ".convert.log"
    tfl = TFLiteOptions(args.input_type, args.output_type, not args.per_tensor, args.sparse)
    onx = OnnxQuantOptions(args.onnx_format, args.calibrate, not args.per_tensor)
    with native_output_to(log) as console:
        console.write(f"converting {args.model} -> {args.out} ({args.to}, quantize {args.quantize}); "
                      f"converter output in {log}\n")
        try:
            result = convert(args.model, args.out, to=args.to, quantize=args.quantize, calibration=args.calib,
                             evaluation=args.eval, explain=args.explain, tflite_options=tfl, onnx_options=onx)
        except ConversionError as e:
            console.write(f"edgewise convert: refused: {e}\n{args.out} was not written\n")
            return EXIT_ERROR
    print(format_result(result, args.explain))
    if args.json:
        write_json_atomic(args.json, result.to_dict())
        print(f"wrote {args.json}")
    return 0


def format_result(r, explain: bool) -> str:
    from edgewise.converters.explain import format_layers
    from edgewise.converters.specs import describe_dims

    lines = [f"wrote {r.path}: {r.format} {r.precision}, {r.size_bytes:,} bytes ({r.converter})"]
    for kind, specs in (("input", r.inputs), ("output", r.outputs)):
        for s in specs:
            lines.append(f"  {kind} {s}  [{describe_dims(s)}]")
    for lay in r.layouts:
        lines.append(f"  layout {lay.name!r} -> {lay.artifact_name!r}: {lay.description}")
    v = r.verification
    lines.append(f"verified against {v.reference} on {v.samples} samples:")
    for c in v.outputs:
        top1 = f", top-1 agreement {c.top1_agreement:.3f} ({c.top1_samples} decided)" if c.top1_agreement is not None \
            else ""
        cos = f", cosine {c.cosine:.6f}" if c.cosine is not None else ""
        lines.append(f"  {c.tensor}: max |error| {c.max_abs_error:.3g}, mean {c.mean_abs_error:.3g}, relative "
                     f"{c.relative_error:.3g}{cos}{top1}; passed {c.rule}")
    lines.append("runtimes: " + "; ".join(f"{s.runtime}: {'yes' if s.supported else 'NO (' + s.reason + ')'}"
                                          for s in r.runtimes))
    if r.sparse_encoding:
        lines.append("sparse tensor encoding: yes")
    for n in r.notes:
        lines.append(f"note: {n}")
    if explain:
        lines.append(format_layers(r.layers) if r.layers is not None else "per-layer report: float file, not needed")
    return "\n".join(lines)



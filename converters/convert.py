"""`convert()`: any supported source to TFLite or ONNX at any supported precision, one verified file.

| source                         | -> TFLite                                   | -> ONNX                         |
|--------------------------------|---------------------------------------------|---------------------------------|
| Keras 3 (in memory, .keras/.h5)| TFLiteConverter: all precisions             | keras export (tf2onnx); int8 ORT |
| SavedModel folder              | TFLiteConverter: all precisions             | not supported                   |
| ONNX file                      | onnx2tf, then TFLiteConverter: all          | int8 with onnxruntime           |
| PyTorch nn.Module (Python API) | torch.onnx.export, then the ONNX path       | torch.onnx.export; int8 ORT     |

Precisions: none (float32), dynamic, float16, int8, int16x8 for TFLite; none and int8 for ONNX.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Optional, Sequence

from .onnx import OnnxQuantOptions, keras_to_onnx, quantize_onnx_int8
from .result import ConversionResult, VerifyConfig
from .samples import SampleSource
from .tflite import TFLiteOptions, keras_to_tflite, saved_model_to_tflite

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8", "int16x8")
ONNX_MODES = ("none", "int8")
TARGETS = ("tflite", "onnx")


def source_kind(model) -> str:
    """'keras', 'savedmodel', 'onnx' or 'torch', or a ValueError saying what is accepted."""
    if isinstance(model, (str, os.PathLike)):
        p = os.fspath(model)
        if os.path.isdir(p):
            if os.path.isfile(os.path.join(p, "saved_model.pb")):
                return "savedmodel"
            raise ValueError(f"{p}: a folder without saved_model.pb is not a SavedModel")
        if not os.path.isfile(p):
            raise ValueError(f"{p}: no such file or folder")
        ext = os.path.splitext(p)[1].lower()
        if ext in (".keras", ".h5"):
            return "keras"
        if ext == ".onnx":
            return "onnx"
        raise ValueError(f"{p}: unknown model type {ext or '(no extension)'}; give a .keras, .h5 or .onnx file, "
                         "a SavedModel folder, or (from Python) a keras.Model or torch.nn.Module")
    mro = {f"{c.__module__}.{c.__name__}" for c in type(model).__mro__}
    if "torch.nn.modules.module.Module" in mro:
        return "torch"
    if any(m.startswith("keras.") for m in mro):
        return "keras"
    raise ValueError(f"cannot convert a {type(model).__name__}: give a keras.Model, torch.nn.Module, "
                     ".keras/.h5/.onnx file or SavedModel folder")


def _load_keras(path: str):
    from edgewise._extras import require

    keras = require("keras", "Keras model loading")
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, OSError, TypeError) as e:
        raise ValueError(f"{path}: cannot be loaded as a Keras model: {str(e).splitlines()[0]}") from None


def convert(model, out: "str | os.PathLike", *, to: str, quantize: str = "none",
            calibration: Optional[SampleSource] = None, evaluation: Optional[SampleSource] = None,
            explain: bool = False, verify: Optional[VerifyConfig] = None,
            tflite_options: Optional[TFLiteOptions] = None, onnx_options: Optional[OnnxQuantOptions] = None,
            input_names: Sequence[str] = ("input",)) -> ConversionResult:
    """Convert `model` to `out`; the file is written only if it passes verification (see VerifyConfig).

    `calibration` sets quantization ranges (required for int8 and int16x8) and, with
    `evaluation`, is the verification set (one of the two is always required: nothing is
    verified on invented data). `input_names` names a PyTorch module's inputs (the keys of the
    .npz). `explain` adds a per-layer error report for quantized files.
    """
    out = os.fspath(out)
    if to not in TARGETS:
        raise ValueError(f"--to must be one of {TARGETS}, got {to!r}")
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"--quantize must be one of {QUANTIZE_MODES}, got {quantize!r}")
    if to == "onnx" and quantize not in ONNX_MODES:
        raise ValueError(f"ONNX output supports --quantize {' or '.join(ONNX_MODES)}; {quantize} is a TFLite mode")
    if calibration is None and quantize in ("int8", "int16x8"):
        raise ValueError(f"{out}: {quantize} quantization needs a calibration set (--calib C.npz: 'x' or one array "
                         "per input name, ~100-500 representative samples)")
    if calibration is None and evaluation is None:
        raise ValueError(f"{out}: give samples to verify the conversion on (--calib or --eval)")
    samples = calibration if calibration is not None else evaluation
    extra = evaluation if calibration is not None else None
    precision = "float32" if quantize == "none" else quantize
    tflite_options = tflite_options or TFLiteOptions()
    kind = source_kind(model)
    if kind == "keras" and isinstance(model, (str, os.PathLike)):
        model = _load_keras(os.fspath(model))
    if to == "tflite":
        if kind == "keras":
            return keras_to_tflite(model, out, samples, precision=precision, verify=verify, options=tflite_options,
                                   explain=explain, evaluation=extra)
        if kind == "savedmodel":
            return saved_model_to_tflite(model, out, samples, precision=precision, verify=verify,
                                         options=tflite_options, explain=explain, evaluation=extra)
        from .onnx2tf import onnx_to_tflite

        if kind == "onnx":
            return onnx_to_tflite(model, out, samples, precision=precision, verify=verify, options=tflite_options,
                                  explain=explain, evaluation=extra)
        from .pytorch import torch_to_onnx
        from .reference import from_torch

        with tempfile.TemporaryDirectory(prefix="edgewise-torch-") as work:
            onnx_path = os.path.join(work, "model.onnx")
            first = torch_to_onnx(model, onnx_path, samples, input_names=input_names, verify=verify, evaluation=extra)
            ref = from_torch(model, list(input_names))
            ref.output_names = [o.name for o in first.outputs]
            res = onnx_to_tflite(onnx_path, out, samples, precision=precision, verify=verify, options=tflite_options,
                                 explain=explain, evaluation=extra, reference=ref)
            check = max(first.verification.outputs, key=lambda c: c.max_abs_error)
            return dataclasses.replace(res, source=ref.name, converter=f"{first.converter} + {res.converter}", notes=(
                f"intermediate ONNX verified against the module: max |error| {check.max_abs_error:.3g}",) + res.notes)
    # to == "onnx"
    if kind == "savedmodel":
        raise ValueError(f"{model}: SavedModel -> ONNX is not supported; convert to TFLite, or export ONNX from the "
                         "Keras model (.keras) instead")
    if kind == "onnx" and quantize == "none":
        raise ValueError(f"{model} is already float ONNX: use --quantize int8, or --to tflite")
    with tempfile.TemporaryDirectory(prefix="edgewise-onnx-") as work:
        float_path = out if quantize == "none" else os.path.join(work, "model.onnx")
        reference = None
        if kind == "keras":
            first = keras_to_onnx(model, float_path, samples, verify=verify, evaluation=extra)
            reference = model
        elif kind == "torch":
            from .pytorch import torch_to_onnx
            from .reference import from_torch

            first = torch_to_onnx(model, float_path, samples, input_names=input_names, verify=verify,
                                  evaluation=extra)
            reference = from_torch(model, list(input_names))
            reference.output_names = [o.name for o in first.outputs]
        else:
            first = None
            float_path = os.fspath(model)
        if quantize == "none":
            return first
        return quantize_onnx_int8(float_path, out, samples, verify=verify, options=onnx_options, explain=explain,
                                  evaluation=extra, reference=reference)

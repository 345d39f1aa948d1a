"""Keras -> float ONNX (tf2onnx, through Keras' own `model.export`), and ONNX float -> int8 with onnxruntime.

The int8 file follows onnxruntime's static quantization: in the QDQ format, QuantizeLinear /
DequantizeLinear pairs around each op (float inputs and outputs, a drop-in replacement that
runtimes fuse into integer kernels); in the QOperator format, integer operators (QLinearConv,
QLinearMatMul, ...). Weights int8, symmetric and per-channel unless asked otherwise; activation
ranges calibrated on the user's samples by MinMax, Entropy (KL divergence, as TensorRT's
calibrator) or Percentile. `quant_pre_process` (shape inference and graph optimisation) runs
first on a copy, as onnxruntime recommends; it needs sympy.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from edgewise._extras import require
from edgewise.fileio import atomic_path
from edgewise.runtime.records import Record

from .errors import ConversionError
from .explain import diverged, layer_report
from .result import ConversionResult, VerifyConfig
from .samples import Feeds, SampleSource, as_feeds, as_float, count, take
from .specs import artifact_specs
from .support import runtime_support
from .verify import check_calibration, ensure_called, input_layouts, verify_detailed
from .weights import file_sparsity

CALIBRATION_BATCH = 32
FORMATS = ("qdq", "qoperator")
METHODS = ("minmax", "entropy", "percentile")


@dataclass(frozen=True)
class OnnxQuantOptions(Record):
    """onnxruntime static quantization settings (see the module docstring)."""

    format: str = "qdq"
    calibration: str = "minmax"
    per_channel: bool = True
    preprocess: bool = True


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def keras_to_onnx(model, path: "str | os.PathLike", calibration: SampleSource, *,
                  verify: Optional[VerifyConfig] = None, evaluation: Optional[SampleSource] = None) -> ConversionResult:
    """Export `model` to float ONNX at `path`, verified against `model` on the user's samples."""
    from .reference import from_keras

    label = os.fspath(path)
    t0 = time.perf_counter()
    if not isinstance(calibration, dict) and not isinstance(calibration, (str, os.PathLike)):
        calibration = check_calibration(calibration, label)
    require("tf2onnx", "ONNX export")
    ensure_called(model, calibration)
    ref = from_keras(model)
    feeds = _with_eval(calibration, evaluation, ref.input_names, label)
    with atomic_path(label, ".onnx") as tmp:
        try:
            model.export(tmp, format="onnx", verbose=False)
        except Exception as e:  # tf2onnx raises whatever its op handlers raise
            raise ConversionError(label, f"Keras ONNX export (tf2onnx) failed: {_first_line(e)}") from e
        verification, layouts = verify_detailed(tmp, ref, feeds, "float32", verify, label=label)
        specs_in, specs_out = artifact_specs(tmp)
        support = runtime_support(tmp, take(feeds, 0, 4), layouts, label=label)
    return ConversionResult(label, "onnx", "float32", os.path.getsize(label), file_sparsity(label), verification,
                            time.perf_counter() - t0, f"keras model {model.name!r}", "keras export (tf2onnx)",
                            specs_in, specs_out, layouts, False, support)


def _with_eval(calibration, evaluation, names, label) -> Feeds:
    feeds = as_float(as_feeds(calibration, names, label))
    if evaluation is not None:
        ev = as_float(as_feeds(evaluation, names, label))
        feeds = {n: np.concatenate([ev[n], feeds[n].astype(ev[n].dtype)]) for n in names}
    return feeds


QDQ_OPSET = 13  # DequantizeLinear's `axis` (per-channel scales) and QuantizeLinear per-axis arrive in opset 13


def _upgrade_for_quantization(path: str) -> str:
    """Move the working copy to opset 13 when it is older; a note saying so, or "".

    onnxruntime's quantizer writes per-channel DequantizeLinear nodes with an `axis` attribute
    whatever the model's opset, and below 13 that is an invalid model (SqueezeNet 1.0 is opset 9).
    """
    onnx = require("onnx", "ONNX int8 quantization")
    from onnx import version_converter

    model = onnx.load(path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), QDQ_OPSET)
    if opset >= QDQ_OPSET:
        return ""
    try:
        onnx.save(version_converter.convert_version(model, QDQ_OPSET), path)
    except (RuntimeError, ValueError) as e:  # the converter's C++ errors surface as RuntimeError
        raise ConversionError(path, f"opset {opset} model: quantization needs opset {QDQ_OPSET} and the version "
                              f"converter failed: {_first_line(e)}") from None
    return f"opset {opset} -> {QDQ_OPSET} on the working copy (per-channel quantization needs it)"


def _reader(feeds: Feeds):
    quant = require("onnxruntime.quantization", "ONNX int8 quantization")

    class Batches(quant.CalibrationDataReader):
        """Feeds the calibration samples in batches, one array per input name."""

        def __init__(self):
            self._it = iter(range(0, count(feeds), CALIBRATION_BATCH))

        def get_next(self):
            start = next(self._it, None)
            return None if start is None else take(feeds, start, start + CALIBRATION_BATCH)

    return Batches()


def _fixed_batch_reader(feeds: Feeds, batch: int):
    """A reader for models whose batch dimension is fixed: one sample (or `batch`) at a time."""
    quant = require("onnxruntime.quantization", "ONNX int8 quantization")

    class Samples(quant.CalibrationDataReader):
        def __init__(self):
            self._it = iter(range(0, count(feeds) - batch + 1, batch))

        def get_next(self):
            start = next(self._it, None)
            return None if start is None else take(feeds, start, start + batch)

    return Samples()


def quantize_onnx_int8(source: "str | os.PathLike", path: "str | os.PathLike", calibration: SampleSource, *,
                       verify: Optional[VerifyConfig] = None, options: Optional[OnnxQuantOptions] = None,
                       explain: bool = False, evaluation: Optional[SampleSource] = None,
                       reference=None) -> ConversionResult:
    """Quantize the float ONNX file `source` to int8 at `path`, verified against `source` with onnxruntime.

    `reference` (a Keras model or `Reference`) replaces `source` as what the file is verified
    against, e.g. the PyTorch module the float file was exported from. `source` is read only:
    pre-processing works on a copy in a temporary folder.
    """
    quant = require("onnxruntime.quantization", "ONNX int8 quantization")
    from .reference import from_onnx

    opts = options or OnnxQuantOptions()
    if opts.format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {opts.format!r}")
    if opts.calibration not in METHODS:
        raise ValueError(f"calibration must be one of {METHODS}, got {opts.calibration!r}")
    source, label = os.fspath(source), os.fspath(path)
    t0 = time.perf_counter()
    ref = from_onnx(source)
    calib = as_float(as_feeds(calibration, ref.input_names, source))
    calib = {n: a.astype(np.float32) if a.dtype.kind == "f" else a for n, a in calib.items()}
    feeds = _with_eval(calibration, evaluation, ref.input_names, label)
    method = {"minmax": quant.CalibrationMethod.MinMax, "entropy": quant.CalibrationMethod.Entropy,
              "percentile": quant.CalibrationMethod.Percentile}[opts.calibration]
    fmt = quant.QuantFormat.QDQ if opts.format == "qdq" else quant.QuantFormat.QOperator
    notes = []
    with tempfile.TemporaryDirectory(prefix="edgewise-ortq-") as work, atomic_path(label, ".onnx") as tmp:
        model_in = os.path.join(work, "model.onnx")
        shutil.copyfile(source, model_in)
        upgraded = _upgrade_for_quantization(model_in)
        if upgraded:
            notes.append(upgraded)
        if opts.preprocess:
            require("sympy", "ONNX quantization pre-processing (symbolic shape inference)")
            pre = os.path.join(work, "model.pre.onnx")
            try:
                quant.quant_pre_process(model_in, pre, skip_symbolic_shape=False)
                model_in = pre
            except Exception as e:  # noqa: BLE001 - onnxruntime's pre-processing raises bare Exceptions
                notes.append(f"quant_pre_process skipped: {_first_line(e)}")
        reader = (_fixed_batch_reader(calib, ref.fixed_batch) if ref.fixed_batch else _reader(calib))
        try:
            quant.quantize_static(
                model_in, tmp, reader, quant_format=fmt, per_channel=opts.per_channel,
                activation_type=quant.QuantType.QInt8, weight_type=quant.QuantType.QInt8,
                calibrate_method=method,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            )
        except Exception as e:  # onnxruntime's quantizer raises bare Exceptions and pybind errors
            raise ConversionError(label, f"onnxruntime quantize_static failed: {_first_line(e)}") from e
        checker = reference if reference is not None else ref
        try:
            verification, layouts = verify_detailed(tmp, checker, feeds, "int8", verify, label=label)
        except ConversionError as e:  # say where it went wrong: the layer whose SNR drops most
            where = layer_report(tmp, source, take(feeds, 0, 8), input_layouts(tmp, ref, take(feeds, 0, 1)),
                                 label=label)
            raise ConversionError(label, e.detail + diverged(where), e.tensor, e.measured) from None
        specs_in, specs_out = artifact_specs(tmp)
        support = runtime_support(tmp, take(feeds, 0, 4), layouts, label=label)
        layers = layer_report(tmp, source, take(feeds, 0, 8), layouts, label=label) if explain else None
    return ConversionResult(label, "onnx", "int8", os.path.getsize(label), file_sparsity(label), verification,
                            time.perf_counter() - t0, source,
                            f"onnxruntime.quantization ({opts.format.upper()}, {opts.calibration}, "
                            f"{'per-channel' if opts.per_channel else 'per-tensor'})",
                            specs_in, specs_out, layouts, False, support, layers, tuple(notes))

"""Keras -> float ONNX (tf2onnx, through Keras' own `model.export`), and ONNX float -> int8 (QDQ).

The int8 file follows onnxruntime's static quantization in the QDQ format: QuantizeLinear /
DequantizeLinear pairs around each op, weights per-channel symmetric int8 and activations int8,
ranges calibrated (min/max) on the user's samples. QDQ keeps float inputs and outputs, so the
file is a drop-in replacement; runtimes fuse the pairs into integer kernels.
"""
from __future__ import annotations

import os
import time
from typing import Optional

import numpy as np

from edgewise._extras import require
from edgewise.fileio import atomic_path
from .check import check_calibration, ensure_called, verify_artifact
from .errors import ConversionError
from .result import ConversionResult, VerifyConfig
from .weights import file_sparsity

CALIBRATION_BATCH = 32


def keras_to_onnx(model, path: "str | os.PathLike", calibration: np.ndarray, *,
                  verify: Optional[VerifyConfig] = None) -> ConversionResult:
    """Export `model` to float ONNX at `path`, verified against `model` on `calibration` samples."""
    label = os.fspath(path)
    t0 = time.perf_counter()
    calib = check_calibration(calibration, label)
    require("tf2onnx", "ONNX export")
    ensure_called(model, calib)
    with atomic_path(label, ".onnx") as tmp:
        try:
            model.export(tmp, format="onnx", verbose=False)
        except Exception as e:  # tf2onnx raises whatever its op handlers raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConversionError(label, f"Keras ONNX export (tf2onnx) failed: {first}") from e
        verification = verify_artifact(tmp, model, calib, "float32", verify, label=label)
    return ConversionResult(label, "onnx", "float32", os.path.getsize(label), file_sparsity(label), verification,
                            time.perf_counter() - t0)


def _reader(input_name: str, calib: np.ndarray):
    quant = require("onnxruntime.quantization", "ONNX int8 quantization")

    class Batches(quant.CalibrationDataReader):
        """Feeds the calibration samples in batches; onnxruntime records each activation's min/max."""

        def __init__(self):
            self._it = iter(range(0, len(calib), CALIBRATION_BATCH))

        def get_next(self):
            start = next(self._it, None)
            return None if start is None else {input_name: calib[start:start + CALIBRATION_BATCH]}

    return Batches()


def quantize_onnx_int8(source: "str | os.PathLike", path: "str | os.PathLike", calibration: np.ndarray, *,
                       verify: Optional[VerifyConfig] = None) -> ConversionResult:
    """Quantize the float ONNX file `source` to int8 QDQ at `path`, verified against `source`."""
    onnx = require("onnx", "ONNX int8 quantization")
    quant = require("onnxruntime.quantization", "ONNX int8 quantization")
    source, label = os.fspath(source), os.fspath(path)
    t0 = time.perf_counter()
    calib = check_calibration(calibration, label)
    inputs = onnx.load(source, load_external_data=False).graph.input
    inits = {i.name for i in onnx.load(source, load_external_data=False).graph.initializer}
    names = [i.name for i in inputs if i.name not in inits]
    if len(names) != 1:
        raise ConversionError(label, f"int8 quantization handles single-input models; {source} has inputs {names}")
    with atomic_path(label, ".onnx") as tmp:
        try:
            quant.quantize_static(
                source, tmp, _reader(names[0], calib),
                quant_format=quant.QuantFormat.QDQ, per_channel=True,
                activation_type=quant.QuantType.QInt8, weight_type=quant.QuantType.QInt8,
                calibrate_method=quant.CalibrationMethod.MinMax,
            )
        except Exception as e:  # onnxruntime's quantizer raises bare Exceptions and pybind errors
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConversionError(label, f"onnxruntime quantize_static failed: {first}") from e
        verification = verify_artifact(tmp, source, calib, "int8", verify, label=label)
    return ConversionResult(label, "onnx", "int8", os.path.getsize(label), file_sparsity(label), verification,
                            time.perf_counter() - t0)

"""Keras -> TFLite, float32 or full-integer int8, verified before it replaces anything on disk.

Uses `tf.lite.TFLiteConverter.from_keras_model` only: `from_concrete_functions` accepts functions
whose variables it then fails to freeze correctly and writes models that load but compute
garbage. The int8 path is post-training full-integer quantization (Jacob et al. 2018,
"Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference"):
weights per-channel symmetric int8, activations per-tensor int8 with ranges from the user's
calibration samples, and int8 input and output so the file runs on integer-only hardware.
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


def _convert(model, precision: str, calib: Optional[np.ndarray], label: str) -> bytes:
    tf = require("tensorflow", "TFLite conversion")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "int8":
        samples = calib

        def representative():
            for i in range(len(samples)):
                yield [samples[i:i + 1]]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    try:
        return conv.convert()
    except Exception as e:  # the converter raises ConverterError, RuntimeError, ValueError, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(label, f"TFLiteConverter ({precision}) failed: {first}") from e


def keras_to_tflite(model, path: "str | os.PathLike", calibration: np.ndarray, *, precision: str = "float32",
                    verify: Optional[VerifyConfig] = None) -> ConversionResult:
    """Convert `model` to `path` and check it against `model` on `calibration` samples.

    `calibration` sets the int8 ranges and is the verification set for both precisions. On any
    failure a ConversionError is raised and an existing file at `path` is left as it was.
    """
    if precision not in ("float32", "int8"):
        raise ValueError(f"precision must be 'float32' or 'int8', got {precision!r}")
    label = os.fspath(path)
    t0 = time.perf_counter()
    calib = check_calibration(calibration, label)
    ensure_called(model, calib)
    data = _convert(model, precision, calib, label)
    with atomic_path(label, ".tflite") as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        verification = verify_artifact(tmp, model, calib, precision, verify, label=label)
    return ConversionResult(label, "tflite", precision, os.path.getsize(label), file_sparsity(label), verification,
                            time.perf_counter() - t0)

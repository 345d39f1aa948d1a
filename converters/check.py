"""Verify a written (or about-to-be-written) artifact against its source on calibration samples.

The source is the Keras model, or for the ONNX int8 file the float ONNX file it was quantized
from. The artifact runs on LiteRT or onnxruntime (see `runners`); its precision decides the
tolerance (see `VerifyConfig`). The int8 tolerance is tied to the output quantization scale,
which is read from the file: the TFLite output tensor's scale, or for a QDQ ONNX model the scale
of the DequantizeLinear that produces the output (or feeds the ops that follow it, e.g. Softmax).
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence

import numpy as np

from edgewise._extras import require
from .errors import ConversionError
from .result import Verification, VerifyConfig
from .runners import run_keras, run_onnx, run_tflite
from .verify import verify_outputs

_PASS_THROUGH = {"Softmax", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Sigmoid", "Relu"}


def onnx_output_scales(path: str) -> List[Optional[float]]:
    """Per graph output, the scale of the nearest DequantizeLinear upstream through pass-through ops, or None."""
    onnx = require("onnx", "ONNX verification")
    numpy_helper = require("onnx.numpy_helper", "ONNX verification")
    graph = onnx.load(path, load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    inits = {i.name: i for i in graph.initializer}
    scales: List[Optional[float]] = []
    for out in graph.output:
        name, scale = out.name, None
        for _ in range(16):
            node = producer.get(name)
            if node is None:
                break
            if node.op_type == "DequantizeLinear":
                init = inits.get(node.input[1])
                if init is not None:
                    s = numpy_helper.to_array(init)
                    scale = float(s) if s.size == 1 else None
                break
            if node.op_type not in _PASS_THROUGH:
                break
            name = node.input[0]
        scales.append(scale)
    return scales


def _run(artifact: str, x: np.ndarray):
    with open(artifact, "rb") as f:
        data = f.read()
    if data[4:8] == b"TFL3":
        outs, infos = run_tflite(data, x)
        return outs, [i.name for i in infos], [i.quant[0] if i.quant else None for i in infos]
    outs, infos = run_onnx(artifact, x)
    return outs, [i.name for i in infos], onnx_output_scales(artifact)


def verify_artifact(artifact: "str | os.PathLike", reference, x: np.ndarray, precision: str,
                    config: Optional[VerifyConfig] = None, label: Optional[str] = None) -> Verification:
    """Run `artifact` and `reference` (a Keras model or a model file) on `x`; raise ConversionError on mismatch.

    `precision` is "float32" or "int8". `label` names the artifact in errors when `artifact` is
    still a temporary file (the final path it is about to become).
    """
    artifact = os.fspath(artifact)
    label = label or artifact
    config = config or VerifyConfig()
    if precision not in ("float32", "int8"):
        raise ValueError(f"precision must be 'float32' or 'int8', got {precision!r}")
    x = np.asarray(x, np.float32)[: config.samples]
    try:
        gots, names, scales = _run(artifact, x)
    except (RuntimeError, ValueError) as e:
        raise ConversionError(label, f"could not be run for verification: {e}") from None
    if isinstance(reference, (str, os.PathLike)):
        ref_name = os.fspath(reference)
        refs, _, _ = _run(ref_name, x)
    else:
        ref_name = "keras model " + repr(getattr(reference, "name", "?"))
        refs = run_keras(reference, x)
    if precision == "float32":
        scales = [None] * len(gots)
    else:
        scales = [s if s is not None else _range_scale(r) for s, r in zip(scales, refs)]
    return verify_outputs(label, ref_name, refs, gots, names, scales, config)


def _range_scale(ref: np.ndarray) -> float:
    """The scale an 8-bit grid spanning the reference output's range would have: (max - min) / 255."""
    span = float(np.max(ref) - np.min(ref)) if ref.size else 0.0
    return span / 255.0 if span > 0 else 1.0 / 255.0


def check_calibration(x: np.ndarray, what: str) -> np.ndarray:
    """Calibration samples as float32, or an error saying why they cannot be used."""
    x = np.asarray(x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{what}: calibration data must be a non-empty batch (N, ...), got shape {x.shape}")
    return x.astype(np.float32)


def ensure_called(model, x: Sequence[np.ndarray]) -> None:
    """Call the model once: Keras builds its graph (and export's input signature) on the first call."""
    model(np.asarray(x[:1], np.float32), training=False)

"""Run a written .tflite or .onnx file on calibration data with the reference engines.

Verification must not depend on the code it checks, so this uses LiteRT (ai_edge_litert) and
onnxruntime directly rather than edgewise.runtime. Quantized inputs are fed as
q = round(x / scale) + zero_point and quantized outputs read back as scale * (q - zero_point),
the affine scheme of the TFLite quantization spec.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from edgewise._extras import require


@dataclass(frozen=True)
class OutputInfo:
    """An output's name and, for a quantized output, its (scale, zero point)."""

    name: str
    quant: Optional[Tuple[float, int]] = None


def _litert_quant(detail: dict) -> Optional[Tuple[float, int]]:
    qp = detail.get("quantization_parameters") or {}
    scales = qp.get("scales")
    if detail["dtype"] in (np.int8, np.uint8, np.int16) and scales is not None and len(scales):
        return float(scales[0]), int(qp["zero_points"][0])
    return None


def run_tflite(data: bytes, x: np.ndarray, batch: int = 64) -> Tuple[List[np.ndarray], List[OutputInfo]]:
    """Outputs of a single-input TFLite model on `x` (float), dequantized, with each output's quantization."""
    interp = require("ai_edge_litert.interpreter", "TFLite verification")
    it = interp.Interpreter(model_content=data,
                            experimental_op_resolver_type=interp.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    inp = it.get_input_details()
    if len(inp) != 1:
        raise ValueError(f"verification handles single-input models; this one has {len(inp)} inputs")
    in_d = inp[0]
    outs_d = it.get_output_details()
    infos = [OutputInfo(d["name"], _litert_quant(d)) for d in outs_d]
    in_q = _litert_quant(in_d)
    results: List[List[np.ndarray]] = [[] for _ in outs_d]
    it.allocate_tensors()
    fixed = int(in_d["shape_signature"][0]) > 0
    step = int(in_d["shape"][0]) if fixed else batch
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        if fixed and len(chunk) != step:
            pad = np.zeros((step - len(chunk),) + chunk.shape[1:], chunk.dtype)
            chunk_in = np.concatenate([chunk, pad])
        else:
            chunk_in = chunk
        if tuple(it.get_input_details()[0]["shape"]) != chunk_in.shape:
            it.resize_tensor_input(in_d["index"], list(chunk_in.shape), strict=False)
            it.allocate_tensors()
        if in_q is not None:
            info = np.iinfo(in_d["dtype"])
            feed = np.clip(np.round(chunk_in / in_q[0]) + in_q[1], info.min, info.max).astype(in_d["dtype"])
        else:
            feed = chunk_in.astype(in_d["dtype"])
        it.set_tensor(in_d["index"], feed)
        it.invoke()
        for i, (d, oi) in enumerate(zip(it.get_output_details(), infos)):
            y = it.get_tensor(d["index"])[: len(chunk)]
            if oi.quant is not None:
                y = (y.astype(np.float32) - oi.quant[1]) * np.float32(oi.quant[0])
            results[i].append(np.asarray(y, np.float32))
    return [np.concatenate(r) for r in results], infos


def run_onnx(path: str, x: np.ndarray, batch: int = 64) -> Tuple[List[np.ndarray], List[OutputInfo]]:
    """Outputs of a single-input ONNX model on `x` with onnxruntime (CPU), batched when the batch dim is free."""
    ort = require("onnxruntime", "ONNX verification")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise ValueError(f"verification handles single-input models; this one has {len(inputs)} inputs")
    first = inputs[0].shape[0] if inputs[0].shape else None
    step = first if isinstance(first, int) and first > 0 else batch
    names = [o.name for o in sess.get_outputs()]
    results: List[List[np.ndarray]] = [[] for _ in names]
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        for i, y in enumerate(sess.run(names, {inputs[0].name: chunk.astype(np.float32)})):
            results[i].append(np.asarray(y, np.float32))
    return [np.concatenate(r) for r in results], [OutputInfo(n) for n in names]


def run_keras(model, x: np.ndarray, batch: int = 64) -> List[np.ndarray]:
    """Outputs of an in-memory Keras model, as a list of float32 arrays."""
    y = model.predict(x, batch_size=batch, verbose=0)
    ys = list(y.values()) if isinstance(y, dict) else (list(y) if isinstance(y, (list, tuple)) else [y])
    return [np.asarray(a, np.float32) for a in ys]

"""Run a written .tflite or .onnx file on the user's data with the reference engines.

Verification must not depend on the code it checks, so this uses LiteRT (ai_edge_litert, the
builtin kernels without default delegates) and onnxruntime directly rather than edgewise.runtime.
Quantized inputs are fed as q = round(x / scale) + zero_point and quantized outputs read back as
scale * (q - zero_point), the affine scheme of the TFLite quantization spec. Inputs arrive by the
artifact's input names (see `layout.adapt`); outputs leave in the artifact's output order, float32.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from edgewise._extras import require

from .samples import Feeds, count, take

CHUNK = 64


@dataclass(frozen=True)
class TensorInfo:
    """An artifact tensor's name (the signature key when there is one), shape, dtype and quantization."""

    name: str
    shape: Tuple[Optional[int], ...]
    dtype: str
    quant: Optional[Tuple[float, int]] = None  # per-tensor (scale, zero point) of an integer tensor


def _litert_quant(detail: dict) -> Optional[Tuple[float, int]]:
    qp = detail.get("quantization_parameters") or {}
    scales = qp.get("scales")
    if np.dtype(detail["dtype"]).kind in "iu" and scales is not None and len(scales):
        return float(scales[0]), int(qp["zero_points"][0])
    return None


def _shape(sig) -> Tuple[Optional[int], ...]:
    return tuple(int(d) if int(d) > 0 else None for d in sig)


class TFLiteRunner:
    """A .tflite file on LiteRT's reference kernels (no XNNPACK: it is a delegate, not the spec)."""

    def __init__(self, data: bytes):
        interp = require("ai_edge_litert.interpreter", "TFLite verification")
        self._it = it = interp.Interpreter(
            model_content=data, experimental_op_resolver_type=interp.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        keys: Dict[int, str] = {}
        for sig in it.get_signature_list():  # signature keys name tensors better than "StatefulPartitionedCall:0"
            runner = it.get_signature_runner(sig)
            for k, d in {**runner.get_input_details(), **runner.get_output_details()}.items():
                keys[d["index"]] = k
            break
        self._in = it.get_input_details()
        self._out = it.get_output_details()
        self.inputs = [TensorInfo(keys.get(d["index"], d["name"]), _shape(d["shape_signature"]),
                                  np.dtype(d["dtype"]).name, _litert_quant(d)) for d in self._in]
        self.outputs = [TensorInfo(keys.get(d["index"], d["name"]), _shape(d["shape_signature"]),
                                   np.dtype(d["dtype"]).name, _litert_quant(d)) for d in self._out]
        self.tensor_names = [d["name"] for d in self._in]

    def run(self, feeds: Feeds) -> List[np.ndarray]:
        it = self._it
        fixed = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        step = fixed or CHUNK
        results: List[List[np.ndarray]] = [[] for _ in self._out]
        current = None
        for start in range(0, count(feeds), step):
            chunk = take(feeds, start, start + step)
            m = count(chunk)
            arrays = []
            for d, info in zip(self._in, self.inputs):
                a = chunk[info.name]
                if fixed and m < step:
                    a = np.concatenate([a, np.repeat(a[-1:], step - m, axis=0)])
                arrays.append(a)
            shapes = [a.shape for a in arrays]
            if shapes != current:
                for d, a in zip(self._in, arrays):
                    if tuple(d["shape"]) != a.shape:
                        it.resize_tensor_input(d["index"], list(a.shape), strict=False)
                it.allocate_tensors()
                current = shapes
            for d, info, a in zip(self._in, self.inputs, arrays):
                it.set_tensor(d["index"], _to_input(a, info))
            it.invoke()
            for i, (d, info) in enumerate(zip(self._out, self.outputs)):
                y = it.get_tensor(d["index"])[:m]
                if info.quant is not None:
                    y = (y.astype(np.float32) - info.quant[1]) * np.float32(info.quant[0])
                results[i].append(np.asarray(y, np.float32))
        return [np.concatenate(r) for r in results]


def _to_input(a: np.ndarray, info: TensorInfo) -> np.ndarray:
    want = np.dtype(info.dtype)
    if info.quant is not None and a.dtype.kind == "f":
        lim = np.iinfo(want)
        return np.clip(np.round(a / info.quant[0]) + info.quant[1], lim.min, lim.max).astype(want)
    return a.astype(want)


_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
               "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(bool)": "bool",
               "tensor(double)": "float64"}


class OnnxRunner:
    """An .onnx file on onnxruntime's CPU provider."""

    def __init__(self, path: str):
        ort = require("onnxruntime", "ONNX verification")
        so = ort.SessionOptions()
        so.log_severity_level = 3
        self._sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.inputs = [TensorInfo(i.name, tuple(d if isinstance(d, int) and d > 0 else None for d in i.shape),
                                  _ORT_DTYPES.get(i.type, "float32")) for i in self._sess.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(d if isinstance(d, int) and d > 0 else None for d in o.shape),
                                   _ORT_DTYPES.get(o.type, "float32")) for o in self._sess.get_outputs()]
        self.tensor_names = [i.name for i in self.inputs]

    def run(self, feeds: Feeds) -> List[np.ndarray]:
        fixed = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        step = fixed or CHUNK
        names = [o.name for o in self.outputs]
        results: List[List[np.ndarray]] = [[] for _ in names]
        for start in range(0, count(feeds), step):
            chunk = take(feeds, start, start + step)
            m = count(chunk)
            feed = {}
            for info in self.inputs:
                a = chunk[info.name]
                if fixed and m < step:
                    a = np.concatenate([a, np.repeat(a[-1:], step - m, axis=0)])
                feed[info.name] = a.astype(info.dtype)
            for i, y in enumerate(self._sess.run(names, feed)):
                results[i].append(np.asarray(y, np.float32)[:m])
        return [np.concatenate(r) for r in results]


def open_artifact(path: "str | os.PathLike"):
    """A runner for a .tflite or .onnx file, chosen by its bytes."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] == b"TFL3":
        with open(path, "rb") as f:
            return TFLiteRunner(f.read())
    return OnnxRunner(path)


def run_keras(model, x: np.ndarray, batch: int = 64) -> List[np.ndarray]:
    """Outputs of an in-memory Keras model, as a list of float32 arrays."""
    y = model.predict(x, batch_size=batch, verbose=0)
    ys = list(y.values()) if isinstance(y, dict) else (list(y) if isinstance(y, (list, tuple)) else [y])
    return [np.asarray(a, np.float32) for a in ys]

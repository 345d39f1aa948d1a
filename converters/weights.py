"""Read the weight tensors back out of a written .tflite or .onnx file, to count what survived.

Sparsity only pays if the zeros are in the deployed file, so edgewise measures them there rather
than in the Keras model. A "weight tensor" here is a constant (stored in the file, not computed)
of rank >= 2 and a float or 8-bit integer type: conv and dense kernels, and in an int8 file their
quantized forms. Biases (rank 1) and shape constants are left out, as in the pruning table.

`read_weights` is the single place that knows how to open the files: TFLite through
edgewise.runtime's bounds-checked reader, ONNX through the `onnx` package (it can move to
edgewise.runtime.onnx's reader in the same place).
"""
from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np

from .._extras import require
from ..compress.sparsity import SparsitySummary

_WEIGHT_DTYPES = ("float32", "float16", "int8", "uint8")


def _is_weight(a: np.ndarray) -> bool:
    return a.ndim >= 2 and a.dtype.name in _WEIGHT_DTYPES


def _tflite_weights(path: str) -> List[Tuple[str, np.ndarray]]:
    from ..runtime.tflite import read_model

    with open(path, "rb") as f:
        model = read_model(f.read(), path)
    out = []
    for t in model.main.tensors:
        if t.is_constant and len(t.shape) >= 2:
            a = t.dense_value()  # sparse-encoded tensors are densified, so their zeros count too
            if _is_weight(a):
                out.append((t.name, a))
    return out


def _onnx_weights(path: str) -> List[Tuple[str, np.ndarray]]:
    onnx = require("onnx", "reading ONNX weights")
    numpy_helper = require("onnx.numpy_helper", "reading ONNX weights")
    model = onnx.load(path)
    out = []
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init, base_dir=os.path.dirname(os.path.abspath(path)))
        if _is_weight(a):
            out.append((init.name, a))
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    a = numpy_helper.to_array(attr.t)
                    if _is_weight(a):
                        out.append((node.output[0], a))
    return out


def read_weights(path: "str | os.PathLike") -> List[Tuple[str, np.ndarray]]:
    """(name, array) of every weight tensor stored in a .tflite or .onnx file."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] == b"TFL3":
        return _tflite_weights(path)
    return _onnx_weights(path)


def file_sparsity(path: "str | os.PathLike") -> SparsitySummary:
    """Exact zeros in the weight tensors of a written model file, per tensor and overall."""
    return SparsitySummary.of_arrays(read_weights(path))

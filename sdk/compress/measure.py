"""Each technique's defining property, measured in the exported file rather than in the Keras model.

A compression step counts only if what it promised is in the file a device loads: the zeros
(`edgewise.converters.weights.file_sparsity`), the N:M or block pattern the runtime recognises
(`structures`, which runs the runtime's own `analyze`), at most k distinct values per tensor or
per output channel (`distinct_values`), and the factorised or filter-pruned shapes
(`weight_shapes`). Files are read with edgewise.runtime's bounds-checked readers.

Layouts: TFLite stores kernels output-channel first (Dense (out, in), Conv OHWI), ONNX Conv
weights OIHW, so axis 0 is the output channel for both; ONNX MatMul/Gemm B is (in, out) and is
transposed here for the pattern check, as the runtime does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from edgewise.runtime.records import Record
from edgewise.runtime.sparse import Structure, analyze

from ..runtime.summary import weight_tensors


@dataclass(frozen=True)
class TensorValues(Record):
    """Distinct values of one stored weight tensor: overall and the most in any output channel (axis 0)."""

    name: str
    shape: Tuple[int, ...]
    distinct: int
    max_per_channel: int


def distinct_values(path: "str | os.PathLike") -> Tuple[TensorValues, ...]:
    """Distinct stored values per weight tensor of a .tflite or .onnx file (int8 codes in an int8 file)."""
    out = []
    for name, a in weight_tensors(path):
        rows = a.reshape(a.shape[0], -1)
        per_row = max(int(np.unique(r).size) for r in rows)
        out.append(TensorValues(name, tuple(int(d) for d in a.shape), int(np.unique(a).size), per_row))
    return tuple(out)


def weight_shapes(path: "str | os.PathLike") -> Dict[str, Tuple[int, ...]]:
    """Stored shape of every weight tensor (see the module doc for the layouts)."""
    return {name: tuple(int(d) for d in a.shape) for name, a in weight_tensors(path)}


def weight_count(path: "str | os.PathLike") -> int:
    """Elements of all weight tensors of the file: what filter pruning and factorization shrink."""
    return int(sum(a.size for _, a in weight_tensors(path)))


def structures(path: "str | os.PathLike", onnx_matmul_names: Tuple[str, ...] = ()) -> Dict[str, Structure]:
    """The runtime's measured zero pattern of each weight as an (out, in) matrix.

    TFLite (out, ...) tensors are flattened to (out, rest); depthwise filters (1, kh, kw, c) are
    skipped (not one matmul). ONNX tensors named in `onnx_matmul_names` are MatMul/Gemm B (in, out)
    and are transposed.
    """
    found = {}
    for name, a in weight_tensors(path):
        if a.ndim == 4 and a.shape[0] == 1 and str(path).endswith(".tflite"):
            continue
        m = a.T if name in onnx_matmul_names else a.reshape(a.shape[0], -1)
        found[name] = analyze(np.ascontiguousarray(m))
    return found


def packed_weight_bytes(path: "str | os.PathLike") -> int:
    """Bytes the file's weights need at ceil(log2(distinct values)) bits each, plus a float32 codebook.

    What a bundle that stores k-bit codes (clustering, k-bit weights) would spend on the weights:
    the int8 file spends 8 bits on each whatever the number of distinct values. A lower bound for
    nothing but a fixed-length code; entropy coding (Deep Compression's Huffman stage) goes lower.
    """
    total = 0
    for _, a in weight_tensors(path):
        distinct = int(np.unique(a).size)
        bits = max(1, int(np.ceil(np.log2(distinct)))) if distinct > 1 else 0
        total += (a.size * bits + 7) // 8 + 4 * distinct
    return int(total)

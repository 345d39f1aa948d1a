"""Where a model file keeps its weights: (name, dtype, shape, byte range) of each constant tensor.

TFLite: each Buffer's `data` vector (the tensors that use it give its name, dtype and shape).
ONNX: each initializer's `raw_data` (typed fields such as float_data stay in the graph).
The bundle cuts these ranges out of the file and codes them; everything else is the graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from edgewise.runtime.errors import ModelFormatError
from edgewise.runtime.onnx import dtypes as onnx_dtypes
from edgewise.runtime.onnx.wire import WireError, iter_fields
from edgewise.runtime.tflite.flatbuf import Buffer

MIN_CODED_BYTES = 32  # smaller constants cost more in the manifest than coding saves


@dataclass(frozen=True)
class WeightRange:
    name: str
    dtype: str
    shape: Tuple[int, ...]
    offset: int
    nbytes: int
    width: int  # bytes per element (1 for sub-byte or unknown types)

    def words(self, data: bytes) -> np.ndarray:
        """The bytes as little-endian unsigned words of the element width."""
        return np.frombuffer(data, {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}[self.width], self.nbytes // self.width,
                             self.offset)


def element_width(bits: int, nbytes: int) -> int:
    w = bits // 8
    return w if bits % 8 == 0 and w in (1, 2, 4, 8) and nbytes % w == 0 else 1


def _numpy_bits(dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize * 8
    except TypeError:  # "string", "int4", ...
        return 0


def tflite_ranges(data: bytes, source: str) -> List[WeightRange]:
    from edgewise.runtime.tflite import read_model

    model = read_model(data, source)
    root = Buffer(data, source).root(b"TFL3")
    spans = [t.span(0, 1, "data") for t in root.tables(4, "buffer")]
    users = {}
    for g in model.subgraphs:
        for t in g.tensors:
            if t.is_constant and t.buffer not in users:
                users[t.buffer] = t
    out = []
    for b, t in sorted(users.items()):
        start, n = spans[b]
        if n < MIN_CODED_BYTES:
            continue
        dtype = t.dtype if t.sparsity is None else str(t.data.dtype)
        shape = tuple(t.shape) if t.sparsity is None else (int(t.data.size),)
        out.append(WeightRange(t.name, dtype, shape, start, n, element_width(_numpy_bits(dtype), n)))
    return out


def onnx_ranges(data: bytes, source: str) -> List[WeightRange]:
    """raw_data of each initializer of the main graph (ModelProto.graph = 7, GraphProto.initializer = 5)."""
    out = []
    try:
        for f, _, a, b in iter_fields(data, 0, len(data)):
            if f != 7:
                continue
            for gf, _, ga, gb in iter_fields(data, a, b):
                if gf == 5:
                    r = _initializer(data, ga, gb, source)
                    if r is not None and r.nbytes >= MIN_CODED_BYTES:
                        out.append(r)
    except WireError as e:
        raise ModelFormatError(source, f"cannot locate the initializers: {e}") from None
    return out


def _initializer(data: bytes, a: int, b: int, source: str):
    dims, code, name, raw, external = [], 1, "", None, False
    for f, wt, x, y in iter_fields(data, a, b):
        if f == 1:
            if wt == 0:
                dims.append(x)
            else:  # packed
                from edgewise.runtime.onnx.wire import unpack_varints

                dims.extend(int(v) for v in unpack_varints(data, x, y))
        elif f == 2:
            code = x
        elif f == 8:
            name = bytes(data[x:y]).decode("utf-8", "replace")
        elif f == 9:
            raw = (x, y)
        elif f == 14 and x == 1:
            external = True
    if external:
        raise ModelFormatError(source, f"initializer {name!r} is stored in an external data file; a bundle holds "
                                       "one file: save the model with its weights inside")
    if raw is None:
        return None
    t = onnx_dtypes.elem_type(code)
    n = raw[1] - raw[0]
    if t is None:
        return WeightRange(name, "unknown", tuple(dims), raw[0], n, 1)
    return WeightRange(name, t.name, tuple(dims), raw[0], n, element_width(t.bits, n))


def weight_ranges(data: bytes, fmt: str, source: str) -> List[WeightRange]:
    ranges = tflite_ranges(data, source) if fmt == "tflite" else onnx_ranges(data, source)
    ranges.sort(key=lambda r: r.offset)
    kept, end = [], 0
    for r in ranges:  # shared or overlapping storage is coded once
        if r.offset >= end:
            kept.append(r)
            end = r.offset + r.nbytes
    return kept

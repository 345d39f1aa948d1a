"""256-entry lookup tables for int8 elementwise ops.

An int8 unary op has only 256 possible inputs, so every int8 activation here is computed once per
input value at construction, with LiteRT's own arithmetic, and applied with one `take`. `lut_populate`
mirrors LUTPopulate (tflite/kernels/internal/common.h): dequantize in float32, transform, multiply by
1/output_scale in float32, round halves away from zero, add the zero point, clamp.
"""
from __future__ import annotations

import numpy as np

from ..quant import round_half_away

INT8_VALUES = np.arange(-128, 128, dtype=np.int32)


def lut_populate(transform, in_scale, in_zp, out_scale, out_zp) -> np.ndarray:
    """transform: float32 array -> float32 array (emulating the C++ float function)."""
    deq = (np.float32(in_scale) * (INT8_VALUES - in_zp).astype(np.float32)).astype(np.float32)
    y = np.asarray(transform(deq), np.float32)
    inv = np.float32(1.0) / np.float32(out_scale)
    rescaled = round_half_away((y * inv).astype(np.float32)).astype(np.float32)
    q = np.clip(np.nan_to_num(rescaled + np.float32(out_zp), nan=0.0), -129, 128).astype(np.int32)
    return np.clip(q, -128, 127).astype(np.int8)


def apply(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """table indexed by value + 128."""
    return by_value(table)(x)


def by_value(table: np.ndarray):
    """run(x) = table[x + 128] for int8 x, as one lookup: the table rotated so that entry v mod 256
    holds table[v + 128] is indexed by the values themselves (NumPy reads a negative index v at
    256 + v); as intp, which NumPy indexes with fastest."""
    rotated = np.ascontiguousarray(np.roll(table, -128))
    return lambda x: rotated[x.astype(np.intp)]

"""ONNX element types (TensorProto.DataType) and how each is stored and decoded into NumPy.

Types NumPy lacks are widened on decode: bfloat16, float8, float4 and float6 become float32
(exactly: every value of those formats is a float32), int4/int2 become int8, uint4/uint2 uint8.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np


@dataclass(frozen=True)
class ElemType:
    """`bits`: width of one element in raw_data; `field`: the typed TensorProto field that may hold it."""

    code: int
    name: str  # the name edgewise reports ("float32", "bfloat16", "int4", ...)
    bits: int
    field: str  # "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"
    numpy: str  # the NumPy dtype arrays of this type are decoded to


_TYPES = (
    ElemType(1, "float32", 32, "float_data", "float32"),
    ElemType(2, "uint8", 8, "int32_data", "uint8"),
    ElemType(3, "int8", 8, "int32_data", "int8"),
    ElemType(4, "uint16", 16, "int32_data", "uint16"),
    ElemType(5, "int16", 16, "int32_data", "int16"),
    ElemType(6, "int32", 32, "int32_data", "int32"),
    ElemType(7, "int64", 64, "int64_data", "int64"),
    ElemType(8, "string", 0, "string_data", "object"),
    ElemType(9, "bool", 8, "int32_data", "bool"),
    ElemType(10, "float16", 16, "int32_data", "float16"),
    ElemType(11, "float64", 64, "double_data", "float64"),
    ElemType(12, "uint32", 32, "uint64_data", "uint32"),
    ElemType(13, "uint64", 64, "uint64_data", "uint64"),
    ElemType(14, "complex64", 64, "float_data", "complex64"),
    ElemType(15, "complex128", 128, "double_data", "complex128"),
    ElemType(16, "bfloat16", 16, "int32_data", "float32"),
    ElemType(17, "float8e4m3fn", 8, "int32_data", "float32"),
    ElemType(18, "float8e4m3fnuz", 8, "int32_data", "float32"),
    ElemType(19, "float8e5m2", 8, "int32_data", "float32"),
    ElemType(20, "float8e5m2fnuz", 8, "int32_data", "float32"),
    ElemType(21, "uint4", 4, "int32_data", "uint8"),
    ElemType(22, "int4", 4, "int32_data", "int8"),
    ElemType(23, "float4e2m1", 4, "int32_data", "float32"),
    ElemType(24, "float8e8m0", 8, "int32_data", "float32"),
    ElemType(25, "uint2", 2, "int32_data", "uint8"),
    ElemType(26, "int2", 2, "int32_data", "int8"),
    ElemType(27, "float6e2m3", 6, "int32_data", "float32"),
    ElemType(28, "float6e3m2", 6, "int32_data", "float32"),
)
BY_CODE: Dict[int, ElemType] = {t.code: t for t in _TYPES}
BY_NUMPY: Dict[str, int] = {t.numpy: t.code for t in _TYPES if t.name == t.numpy}
NATIVE = frozenset(t.code for t in _TYPES if t.name == t.numpy or t.code == 8)


def elem_type(code: int) -> Optional[ElemType]:
    return BY_CODE.get(code)


def name_of(code: int) -> str:
    t = BY_CODE.get(code)
    return t.name if t is not None else f"type{code}"


def raw_size(t: ElemType, count: int) -> int:
    """Bytes raw_data must hold for `count` elements (sub-byte types are packed, LSB first)."""
    return (count * t.bits + 7) // 8


def typed_count(t: ElemType, count: int) -> int:
    """Entries the typed field must hold: complex takes two, 4-bit two per int32, 2-bit four."""
    if t.code in (14, 15):
        return 2 * count
    if t.bits in (4, 2):
        return (count * t.bits + 7) // 8
    return count


# -- decoding the types NumPy lacks -----------------------------------------------------------
# (exponent bits, mantissa bits, bias, kind); kind says how NaN/inf are encoded, after
# arXiv:2209.05433 (FP8 E4M3/E5M2), the "fnuz" variants of arXiv:2206.02915, and OCP MX v1.0.
_MINIFLOATS = {
    17: (4, 3, 7, "fn"),
    18: (4, 3, 8, "fnuz"),
    19: (5, 2, 15, "ieee"),
    20: (5, 2, 16, "fnuz"),
    23: (2, 1, 1, "finite"),
    27: (2, 3, 1, "finite"),
    28: (3, 2, 3, "finite"),
}


def _minifloat_table(exp_bits: int, man_bits: int, bias: int, kind: str) -> np.ndarray:
    n = 1 << (1 + exp_bits + man_bits)
    x = np.arange(n)
    sign = np.where(x >> (exp_bits + man_bits) & 1, -1.0, 1.0)
    e = (x >> man_bits) & ((1 << exp_bits) - 1)
    m = x & ((1 << man_bits) - 1)
    frac = m / float(1 << man_bits)
    val = np.where(e == 0, frac * 2.0 ** (1 - bias), (1 + frac) * 2.0 ** (e - bias)) * sign
    top = (1 << (exp_bits + man_bits)) - 1
    if kind == "fn":
        val[(x & top) == top] = np.nan
    elif kind == "fnuz":
        val[n // 2] = np.nan
    elif kind == "ieee":
        emax = (1 << exp_bits) - 1
        val[(e == emax) & (m == 0)] = np.inf * sign[(e == emax) & (m == 0)]
        val[(e == emax) & (m != 0)] = np.nan
    return val.astype(np.float32)


def _unpack_bits(b: np.ndarray, bits: int, count: int) -> np.ndarray:
    per = 8 // bits
    shifts = np.arange(per, dtype=np.uint8) * bits
    return ((b[:, None] >> shifts) & ((1 << bits) - 1)).reshape(-1)[:count].astype(np.uint8)


def _unpack6(b: np.ndarray, count: int) -> np.ndarray:
    padded = np.zeros(-(-b.size // 3) * 3, np.uint32)
    padded[: b.size] = b
    g = padded.reshape(-1, 3)
    word = g[:, 0] | (g[:, 1] << 8) | (g[:, 2] << 16)
    return ((word[:, None] >> np.array([0, 6, 12, 18], np.uint32)) & 63).reshape(-1)[:count].astype(np.uint8)


def widen(t: ElemType, codes: np.ndarray, count: int) -> np.ndarray:
    """Map the stored bit patterns of a non-NumPy type (uint bytes/words) to its decoded array.

    `codes`: for 16-bit types, uint16 values; for 8-bit, one uint8 per element; for 4/2/6-bit
    types, the packed bytes.
    """
    if t.code == 16:
        return (codes.astype(np.uint32) << 16).view(np.float32)
    if t.code == 24:
        out = np.ldexp(np.float32(1.0), codes.astype(np.int32) - 127).astype(np.float32)
        out[codes == 255] = np.nan
        return out
    if t.bits == 6:
        codes = _unpack6(codes, count)
    elif t.bits in (4, 2):
        codes = _unpack_bits(codes, t.bits, count)
    if t.code in _MINIFLOATS:
        return _minifloat_table(*_MINIFLOATS[t.code])[codes]
    if t.code in (22, 26):  # sign-extend int4 / int2
        shift = 8 - t.bits
        return ((codes.astype(np.int8) << shift) >> shift).astype(np.int8)
    return codes.astype(np.uint8)

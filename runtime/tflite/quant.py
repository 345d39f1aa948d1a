"""TFLite's integer requantization arithmetic, vectorized in int64.

These reproduce tflite/kernels/internal/common.h and quantization_util.cc (double rounding, the build
default: gemmlowp's SaturatingRoundingDoublingHighMul followed by RoundingDivideByPOT, both rounding
halves away from zero), plus the variant of LiteRT's vector code and of ruy's GEMM output stage (the
same two steps, rounding halves up), so that int8 kernels built on them give LiteRT's results bit
for bit. Reference: Jacob et al., "Quantization and
Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR 2018, section 2.2.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def round_half_away(x):
    """C's std::round / TfLiteRound: halves go away from zero (np.round goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_multiplier(m: float) -> Tuple[int, int]:
    """(q, shift) with m ~= q * 2^(shift - 31), q in [2^30, 2^31): QuantizeMultiplier()."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_multipliers(ms: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(m)) for m in ms]
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul for int32 a, b (as int64 arrays): round(a*b / 2^31)."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    neg = ab < 0
    ab += 1 << 30
    ab -= neg * np.int64((1 << 31) - 1)  # nudge 1 - 2^30 for negative products
    # C integer division truncates toward zero: floor, plus one where a negative value is inexact
    res = (ab >> 31) + (neg & ((ab & 0x7FFFFFFF) != 0))
    if np.any(np.asarray(b) == INT32_MIN):
        res = np.where((np.asarray(a) == INT32_MIN) & (np.asarray(b) == INT32_MIN), INT32_MAX, res)
    return res


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding halves away from zero."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier(int32 x, q, shift) with per-element or per-channel q and shift."""
    shift = np.asarray(shift, np.int64)
    right = np.maximum(-shift, 0)
    x = np.asarray(x, np.int64)
    if np.any(shift > 0):
        x = np.asarray(x << np.maximum(shift, 0), np.int64)
        x = ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # the C code multiplies in int32, which wraps
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), right)


def dtype_range(dtype) -> Tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def activation_range(activation: str, scale: float, zero_point: int, dtype) -> Tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation as a clamp in the quantized domain.
    quantize(f) = zero_point + round(f / scale), computed in float32 as the C++ does."""
    qmin, qmax = dtype_range(dtype)

    def q(f: float) -> int:
        return zero_point + int(round_half_away(np.float32(f) / np.float32(scale)))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(activation)


try:  # the clip ufunc itself: what np.clip calls after microseconds of Python checks (small arrays)
    from numpy._core.umath import clip as clip_ufunc
except ImportError:  # NumPy < 2
    from numpy.core.umath import clip as clip_ufunc


def float_activation(x: np.ndarray, activation: str) -> np.ndarray:
    """The fused activation of float kernels (ActivationFunctionWithMinMax)."""
    if activation == "NONE":
        return x
    if activation == "RELU":
        return np.maximum(x, np.float32(0))
    if activation == "RELU6":
        return clip_ufunc(x, np.float32(0), np.float32(6))
    if activation == "RELU_N1_TO_1":
        return clip_ufunc(x, np.float32(-1), np.float32(1))
    raise ValueError(activation)


ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def multiply_by_quantized_multiplier_ruy(x, multiplier, shift):
    """The GEMM output stage of ruy, which LiteRT's CONV_2D and FULLY_CONNECTED use on x86:
    the same fixed-point multiplier and shifts, but both roundings go half-up (arithmetic shifts after
    adding half) instead of gemmlowp's half-away-from-zero. Differs from
    `multiply_by_quantized_multiplier` only on exact ties of a negative value."""
    shift = np.asarray(shift, np.int64)
    right = np.maximum(-shift, 0)
    x = np.asarray(x, np.int64)
    if np.any(shift > 0):
        x = np.asarray(x << np.maximum(shift, 0), np.int64)
        x = ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    t = x * np.asarray(multiplier, np.int64)
    t += 1 << 30
    t >>= 31
    t += (np.int64(1) << right) >> 1
    t >>= right
    return t


def requantize_lanes(acc, multiplier, shift, vector_mask):
    """Per-element choice between LiteRT's vector-loop rounding (vqrdmulh + vrshl, halves up) and its
    scalar tail (gemmlowp, halves away from zero); `vector_mask` broadcasts against `acc`."""
    if np.all(vector_mask):
        return multiply_by_quantized_multiplier_ruy(acc, multiplier, shift)
    if np.ndim(multiplier) == 0 and np.ndim(shift) == 0 and int(shift) <= 0 and int(multiplier) >= 0:
        scalar = multiply_by_quantized_multiplier_right(np.asarray(acc, np.int64), int(multiplier), int(shift))
    else:
        scalar = multiply_by_quantized_multiplier(acc, multiplier, shift)
    if not np.any(vector_mask):
        return scalar
    return np.where(vector_mask, multiply_by_quantized_multiplier_ruy(acc, multiplier, shift), scalar)


def multiply_by_quantized_multiplier_right(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """`multiply_by_quantized_multiplier` for one multiplier >= 0 and shift <= 0 (every
    requantization by a real factor below 1), in five array operations instead of about twenty.

    For those arguments SaturatingRoundingDoublingHighMul is floor((x * M + 2^30) / 2^31) (its
    negative nudge 1 - 2^30 with C's truncating division is the same floor; saturation needs
    M = -2^31), and RoundingDivideByPOT by r > 0 is floor((t + 2^(r-1) - [t < 0]) / 2^r).
    x: int64 array of int32 values (|x * M| < 2^62)."""
    r = -int(shift)
    t = x * np.int64(multiplier)
    t += 1 << 30
    t >>= 31
    if r:
        t += (1 << (r - 1)) - (t < 0)
        t >>= r
    return t

"""Which elements LiteRT computes in its vector loops, and the vector loops' rounding.

LiteRT's optimized int8 kernels (tflite/kernels/internal/optimized/...) process elements in blocks of
8 or 16 with NEON intrinsics (on x86 the same code runs through NEON_2_SSE, see neon_check.h), and the
leftover tail with scalar code. The two round differently: NEON's vqrdmulh rounds the doubled high
product half-up and vshl with a negative count truncates, while the scalar code uses gemmlowp's
SaturatingRoundingDoublingHighMul (halves away from zero) and RoundingDivideByPOT. To agree bit for bit,
a kernel computes both and picks per element with the masks built here.

Broadcasting binary ops run BinaryBroadcastFiveFold (optimized_ops.h): ProcessBroadcastShapes folds
the shapes into five extents y0..y4 and the kernel runs on contiguous runs of y4 elements (elementwise
kernel) or, when y4 == 1, of y3 elements against one broadcast scalar (scalar kernel), each run with its
own vector/tail split. Shapes it cannot fold ("generic") run the scalar reference code everywhere.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x):
    return ((np.asarray(x, np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def vqrdmulh(a, b):
    """NEON vqrdmulhq_s32: saturate(round_half_up(2*a*b / 2^32))."""
    a = np.asarray(a, np.int64)
    r = a * np.asarray(b, np.int64)
    r += 1 << 30
    r >>= 31
    if np.any(np.asarray(b) == INT32_MIN):
        r = np.where((a == INT32_MIN) & (np.asarray(b) == INT32_MIN), INT32_MAX, r)
    return r


def vshl(x, n: int):
    """NEON vshlq_s32 by a constant: left shift (wrapping), or arithmetic (truncating) right shift."""
    x = np.asarray(x, np.int64)
    return wrap32(x << n) if n >= 0 else x >> (-n)


def vrshl(x, n: int):
    """NEON vrshlq_s32: like vshl, but a right shift rounds half up."""
    x = np.asarray(x, np.int64)
    if n >= 0:
        return wrap32(x << n)
    return (x + (1 << (-n - 1))) >> (-n)


def mbqm_4rows(x, multiplier: int, shift: int):
    """MultiplyByQuantizedMultiplier4Rows (common.h, double-rounding build)."""
    return vrshl(vqrdmulh(vshl(x, max(shift, 0)), multiplier), min(shift, 0))


def flat_vector_mask(size: int, block: int) -> np.ndarray:
    """Elements [0, size // block * block) go through the vector loop."""
    return np.arange(size) < (size // block) * block


def five_fold(shape1: Tuple[int, ...], shape2: Tuple[int, ...]) -> Optional[Tuple[bool, Tuple[int, ...]]]:
    """ProcessBroadcastShapes: (swap_inputs, (y0..y4)), or None for the generic (slow) broadcast.
    Equal shapes are not a broadcast; the caller handles them."""
    n = max(len(shape1), len(shape2))
    s0 = (1,) * (n - len(shape1)) + tuple(shape1)
    s1 = (1,) * (n - len(shape2)) + tuple(shape2)
    category = None
    for i in range(n - 1, -1, -1):
        if s0[i] == s1[i]:
            continue
        if s0[i] == 1:
            category = "first"
        elif s1[i] == 1:
            category = "second"
        else:
            return None
        break
    if category is None:
        return None
    swap = category == "second"
    a, b = (s1, s0) if swap else (s0, s1)
    y = [1, 1, 1, 1, 1]
    i = n - 1
    for slot, cond in ((4, "eq"), (3, "a1"), (2, "eq"), (1, "b1"), (0, "eq")):
        while i >= 0 and ((a[i] == b[i]) if cond == "eq" else (a[i] == 1 if cond == "a1" else b[i] == 1)):
            y[slot] *= b[i] if slot in (4, 3, 0) else a[i]
            i -= 1
    if i >= 0:
        return None
    return swap, tuple(y)


def broadcast_lanes(shape1, shape2, elementwise_block: int, scalar_block: int):
    """(kind, vector mask over the output, swap): kind is "elementwise", "scalar" or "generic"."""
    out_shape = np.broadcast_shapes(tuple(shape1), tuple(shape2))
    size = math.prod(out_shape)
    n = len(out_shape)
    if (1,) * (n - len(shape1)) + tuple(shape1) == (1,) * (n - len(shape2)) + tuple(shape2):
        return "elementwise", flat_vector_mask(size, elementwise_block).reshape(out_shape), False
    folded = five_fold(tuple(shape1), tuple(shape2))
    if folded is None:
        return "generic", np.zeros(out_shape, bool), False
    swap, y = folded
    if y[4] > 1:
        pos = np.arange(size) % y[4]
        return "elementwise", (pos < (y[4] // elementwise_block) * elementwise_block).reshape(out_shape), swap
    pos = np.arange(size) % y[3]
    return "scalar", (pos < (y[3] // scalar_block) * scalar_block).reshape(out_shape), swap


def select(vector_mask, vector_fn, scalar_fn):
    """vector_fn() where the mask is set, scalar_fn() elsewhere, computing only what is needed."""
    if vector_mask.all():
        return vector_fn()
    if not vector_mask.any():
        return scalar_fn()
    return np.where(vector_mask, vector_fn(), scalar_fn())

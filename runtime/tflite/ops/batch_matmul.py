"""BATCH_MATMUL (batch_matmul.cc): matmul over the last two axes with broadcast batch dims, adj_x /
adj_y transposing an operand. int8 runs reference_ops::BatchMatMul: exact int32 sums of
(lhs - lhs_zp)(rhs - rhs_zp), then the scalar MultiplyByQuantizedMultiplier with
s_lhs * s_rhs / s_out (double).

That requantization, for a multiplier 0 < M < 2^31 and a right shift r >= 0 (a real factor below 1),
is t = floor((acc M + 2^30) / 2^31) (SaturatingRoundingDoublingHighMul, see
quant.multiply_by_quantized_multiplier_right), then y = floor((t + h - [t < 0]) / 2^r) with
h = 2^(r-1) (RoundingDivideByPOT, halves away from zero; y = t when r = 0). Composing the floors
(floor((floor(a / P) + c) / Q) = floor((a + c P) / (P Q)) for an integer c), adding the zero point
and 128 inside the floor:

    y + zp + 128 = floor(acc M 2^-S + C 2^-S - [neg] 2^-r),  S = 31 + r,
    C = 2^30 + h 2^31 + (zp + 128) 2^S,   neg = [acc M + 2^30 < 0] = [acc < -floor(2^30 / M)]

(t < 0 exactly when its numerator is). `requantize_fold` evaluates this in float64: M 2^-S, C 2^-S
and 2^-r are exact, and when |acc| M + |C| + 2^31 <= 2^53 every partial result is an integer
multiple of 2^-S of magnitude at most 2^53 * 2^-S, so nothing rounds (Higham, "Accuracy and
Stability of Numerical Algorithms", sec. 2.1). Clamping to [0, 255] commutes with the floor, which
the integer conversion's truncation then is; subtracting 128 is a lookup in an int8 table. When
the floors' possible values for |acc| <= acc_abs_max span fewer than CLAMP_TABLE_MAX integers,
K = minus the lowest of them (when negative) is added to C 2^-S, so that u + K >= 0 truncates to
its floor, and the clamp and the shift become the table T[k] = clamp(k - K, 0, 255) - 128.
Otherwise (a left shift, or a bound too large) the kernel keeps the int64 arithmetic.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .. import quant
from .common import gemm_dtype
from .registry import register, register_fused

FLOAT64_EXACT = 1 << 53
CLAMP_TABLE_MAX = 1 << 16


def requantize_fold(mult: int, shift: int, zp: int, acc_abs_max: int) -> Optional[Callable]:
    """run(acc) -> int8 = clamp(zp + MultiplyByQuantizedMultiplier(acc, mult, shift)) for integer-valued
    float acc with |acc| <= acc_abs_max (module docstring); None outside the exact range."""
    if mult <= 0 or shift > 0:
        return None
    r = -shift
    s = 31 + r
    c = (1 << 30) + (((1 << r) >> 1) << 31) + ((zp + 128) << s)
    if acc_abs_max * mult + abs(c) + (1 << 31) > FLOAT64_EXACT:
        return None
    tie = np.float64(2.0 ** -r) if r else None
    neg_below = -((1 << 30) // mult)
    lowest = (-acc_abs_max * mult + c - (1 << 31)) >> s  # the floors' range, in exact integers
    highest = (acc_abs_max * mult + c) >> s
    k = max(0, -lowest)
    c_k = c + (k << s)
    m_f = np.float64(mult * 2.0 ** -s)
    if highest + k < CLAMP_TABLE_MAX and acc_abs_max * mult + abs(c_k) + (1 << 31) <= FLOAT64_EXACT:
        c_f, table = np.float64(c_k * 2.0 ** -s), (np.clip(np.arange(highest + k + 1) - k, 0, 255) - 128)
        clamp = False
    else:
        c_f, table = np.float64(c * 2.0 ** -s), np.arange(256) - 128
        clamp = True
    table = table.astype(np.int8)

    def run(acc: np.ndarray) -> np.ndarray:
        t = np.multiply(acc, m_f, dtype=np.float64)
        t += c_f
        if tie is not None:
            t -= (acc < neg_below) * tie
        if clamp:
            np.maximum(t, 0.0, out=t)
            np.minimum(t, 255.0, out=t)
        return table[t.astype(np.intp)]

    return run


@register("BATCH_MATMUL")
def build_batch_matmul(ctx):
    return _build(ctx, (None, None))


@register_fused("EDGEWISE_BATCH_MATMUL")
def build_transposed_batch_matmul(ctx):
    """BATCH_MATMUL of TRANSPOSE(x, perm_x) and TRANSPOSE(y, perm_y), as views (the op
    passes/fuse_transpose_matmul.py makes); inputs 2 and 3 are the constant perms, or omitted."""
    perms = []
    for i in (2, 3):
        p = ctx.const(i)
        if p is None and ctx.has_input(i):
            raise ctx.unsupported("a permutation computed at run time")
        perms.append(None if p is None else tuple(int(v) for v in p.reshape(-1)))
    return _build(ctx, tuple(perms))


def _build(ctx, perms):
    adj_x = bool(ctx.options.get("adj_x", False))
    adj_y = bool(ctx.options.get("adj_y", False))
    dt = ctx.dtype(0)
    if dt not in ("float32", "int8") or ctx.dtype(1) != dt or ctx.out_dtype(0) != dt:
        raise ctx.unsupported(f"dtypes {ctx.dtype(0)} x {ctx.dtype(1)} -> {ctx.out_dtype(0)}")
    perm_x, perm_y = perms

    def operands(ins):
        a, b = ins[0], ins[1]
        if perm_x is not None:
            a = a.transpose(perm_x)
        if perm_y is not None:
            b = b.transpose(perm_y)
        if adj_x:
            a = np.swapaxes(a, -1, -2)
        if adj_y:
            b = np.swapaxes(b, -1, -2)
        return a, b

    if dt == "float32":
        def run_float(ins):
            a, b = operands(ins)
            return [np.matmul(a, b)]  # float32 accumulation, as LiteRT's float kernel

        return run_float
    s1, z1 = ctx.qparams(ctx.inputs[0])
    s2, z2 = ctx.qparams(ctx.inputs[1])
    so, zo = ctx.qparams(ctx.outputs[0])
    mult, shift = quant.quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(so)))
    right = shift <= 0 and mult >= 0
    span1, span2 = max(127 - z1, z1 + 128), max(127 - z2, z2 + 128)  # bounds of |x - zp|
    by_depth = {}  # depth -> (exact GEMM dtype (common.gemm_dtype), folded requantization or None)

    def run_int(ins):
        a, b = operands(ins)
        k = a.shape[-1]
        hit = by_depth.get(k)
        if hit is None:
            hit = by_depth[k] = (gemm_dtype(k, 255, 255), requantize_fold(mult, shift, zo, k * span1 * span2))
        gdt, fold = hit
        acc = np.matmul(np.subtract(a, z1, dtype=gdt), np.subtract(b, z2, dtype=gdt))
        if fold is not None:
            return [fold(acc)]
        acc = acc.astype(np.int64)
        if right:
            y = quant.multiply_by_quantized_multiplier_right(acc, mult, shift)
        else:
            y = quant.multiply_by_quantized_multiplier(acc, mult, shift)
        y += zo
        return [np.clip(y, -128, 127).astype(np.int8)]

    return run_int

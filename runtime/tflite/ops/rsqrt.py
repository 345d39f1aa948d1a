"""RSQRT (elementwise.cc). int8 follows RsqrtEvalQuantizedInt8: 1/sqrt(x - zp) from
GetInvSqrtQuantizedMultiplierExp (common.h: five Newton-Raphson steps in gemmlowp 32-bit fixed point
with 3 integer bits), then two MultiplyByQuantizedMultiplier calls with the multiplier
1 / (sqrt(s_in) * s_out). An int8 input has 256 values, so the result is a table built here in Python
integers, exactly as the C++ computes each entry."""
from __future__ import annotations

import math

import numpy as np

from .. import quant
from . import fixedpoint as fp
from .lut import INT8_VALUES, by_value
from .registry import register

def inv_sqrt_multiplier_exp(value: int, reverse_shift: int = -1):
    """GetInvSqrtQuantizedMultiplierExp: (multiplier, shift) with 1/sqrt(value) = m * 2^(shift - 31)."""
    if value <= 1:
        return fp.I32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    clz = 32 - value.bit_length()
    pairs = (clz - 1) // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    x_in = value >> 1
    half_in = fp.rdbpot(x_in, 1)
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = fp.sat_shift_left(fp.srdhm(fp.srdhm(x, x), x), 6)
        x = fp.sat_shift_left(fp.wrap(fp.srdhm(half_three, x) - fp.srdhm(half_in, x3)), 3)
    x = fp.srdhm(x, 1518500250)
    if shift < 0:
        x <<= -shift
        shift = 0
    return x, shift * reverse_shift


def rsqrt_int8_table(s_in, z_in, s_out, z_out) -> np.ndarray:
    mult, shift = quant.quantize_multiplier(1.0 / (math.sqrt(float(np.float32(s_in))) * float(np.float32(s_out))))
    out = []
    for q in INT8_VALUES.tolist():
        value = q - z_in
        if value <= 0:
            out.append(127)  # LiteRT returns the maximum for 0 and refuses negative inputs
            continue
        m, s = inv_sqrt_multiplier_exp(value)
        data = fp.mbqm(1, m, s + 20)
        out.append(min(max(fp.mbqm(data, mult, shift - 20) + z_out, -128), 127))
    return np.array(out, np.int8)


@register("RSQRT")
def build_rsqrt(ctx):
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        return lambda ins: [(1.0 / np.sqrt(ins[0].astype(np.float64))).astype(np.float32)]
    table = rsqrt_int8_table(*ctx.qparams(ctx.inputs[0]), *ctx.qparams(ctx.outputs[0]))
    run = by_value(table)
    return lambda ins: [run(ins[0])]

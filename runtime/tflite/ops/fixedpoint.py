"""gemmlowp's scalar 32-bit fixed-point primitives on Python integers (gemmlowp/fixedpoint/fixedpoint.h),
for the few LiteRT int8 kernels (RSQRT, DIV) whose per-value arithmetic is a fixed-point Newton
iteration. They run once per possible int8 value, at construction, never per element."""
from __future__ import annotations

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def wrap(v: int) -> int:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    if a == b == I32_MIN:
        return I32_MAX
    ab = a * b
    t = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    return t >> 31 if t >= 0 else -((-t) >> 31)


def rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > ((mask >> 1) + (1 if x < 0 else 0)))


def sat_shift_left(x: int, e: int) -> int:
    """SaturatingRoundingMultiplyByPOT with a positive exponent."""
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return I32_MAX
    if x < -threshold:
        return I32_MIN
    return x << e


def mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap(x << left), m), right)


def clz32(x: int) -> int:
    """CountLeadingZeros of a uint32 (32 for 0)."""
    return 32 - (x & 0xFFFFFFFF).bit_length()


def clrsb32(x: int) -> int:
    """CountLeadingSignBits of an int32 (GCC's __builtin_clrsb; 31 for 0 and -1)."""
    return 31 - (x if x >= 0 else ~x).bit_length()


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """1 / (1 + a) for a in [0, 1) as FixedPoint<int32, 0>: three Newton-Raphson steps from 48/17 - 32/17 d."""
    s = a + I32_MAX  # RoundingHalfSum(a, One)
    t = s + (1 if s >= 0 else -1)
    half = t // 2 if t >= 0 else -((-t) // 2)
    x = wrap(1515870810 + srdhm(half, -1010580540))
    for _ in range(3):
        one_minus = wrap((1 << 29) - srdhm(half, x))
        x = wrap(x + sat_shift_left(srdhm(x, one_minus), 2))
    return sat_shift_left(x, 1)  # Rescale<0>(ExactMulByPot<-1>(x))


def reciprocal(x: int, integer_digits: int = 31):
    """GetReciprocal (common.h): (multiplier, num_bits_over_unit) with 1/x = m * 2^(bits - 31)."""
    headroom_plus_one = clz32(x)
    bits_over_unit = integer_digits - headroom_plus_one
    shifted_minus_one = wrap(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), bits_over_unit

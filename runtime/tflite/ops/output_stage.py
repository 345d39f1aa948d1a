"""The int8 output stage of LiteRT's GEMM kernels (ruy), folded into a multiply, an add and a shift.

ruy computes, per output channel c with multiplier M_c < 2^31 and right shift r_c >= 0:

    t = (acc + b_c) * M_c;  t = (t + 2^30) >> 31;  t = (t + (2^r_c >> 1)) >> r_c;  y = clamp(t + zp)

(see quant.multiply_by_quantized_multiplier_ruy). Arithmetic shifts are floors, and for integers
floor((floor(a / P) + h) / Q) = floor((a + h * P) / (P * Q)), while floor(a / Q) + z =
floor((a + z * Q) / Q). So the three roundings and the zero point collapse into one shift:

    y = clamp(((acc * M_c) + C_c) >> (31 + r_c)),
    C_c = b_c * M_c + 2^30 + (2^r_c >> 1) * 2^31 + zp * 2^(31 + r_c),

exact as long as no int64 overflows, which `fold` proves at load from a bound on |acc| (else it
returns None and the caller keeps the step-by-step arithmetic). A kernel whose input zero point was
folded into the bias (b_c - zp_x * sum_j w_cj, so that its GEMM reads the raw int8 values) passes
that folded bias. Multiplying M_c and C_c by 2^(S - 31 - r_c) for the largest shift S leaves every
quotient unchanged and lets one scalar shift serve all channels (a broadcast shift array costs ~15 %
more); used when that too stays in range.

When moreover |acc| * M_c + |C'_c| <= 2^53 for every channel, with C'_c the C_c of zp + 128 (most
layers: |acc| <= 128 * sum |w|), it runs in float64, ~30 % faster than int64 here, as

    u = clamp(acc * (M_c 2^-s_c) + C'_c 2^-s_c, lo + 128, hi + 128);  y = int8(uint8(u) - 128)

Exact: M_c 2^-s_c and C'_c 2^-s_c are representable (power-of-two scalings), and so are the
product and the sum, being 2^-s_c times integers of magnitude <= 2^53: no operation rounds (Higham,
"Accuracy and Stability of Numerical Algorithms", sec. 2.1). Clamping to integer bounds commutes
with floor, and on the nonnegative clamped values the uint8 conversion's truncation is floor;
subtracting 128 is flipping the top bit and reading the byte as int8.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from .common import TILE_ELEMENTS

INT64_LIMIT = (1 << 63) - 1
FLOAT64_EXACT = 1 << 53
CLIP_ONE_PASS = 8192  # elements above which np.clip's single pass beats its Python overhead


def fold(multiplier, shift, bias, y_zp: int, lo: int, hi: int, acc_abs_max: int) -> Optional[Callable]:
    """run(acc) -> int8, acc integer-valued (int64 or an exact float), of shape (..., channels);
    None when a left shift or the int64 range rules the folded form out."""
    mult = [int(m) for m in np.asarray(multiplier).ravel()]
    shifts = [int(s) for s in np.asarray(shift).ravel()]
    n = max(len(mult), len(shifts), 0 if bias is None else len(bias))
    mult = mult * n if len(mult) == 1 else mult
    shifts = shifts * n if len(shifts) == 1 else shifts
    b = [0] * n if bias is None else [int(v) for v in bias]
    if any(s > 0 for s in shifts) or any(m < 0 for m in mult):
        return None
    consts, total = [], []
    for m, s, bc in zip(mult, shifts, b):
        r = -s
        c = bc * m + (1 << 30) + (((1 << r) >> 1) << 31) + (y_zp << (31 + r))
        if acc_abs_max * m + abs(c) > INT64_LIMIT:
            return None
        consts.append(c)
        total.append(31 + r)
    tiled = {}
    by_size = {}  # acc.size -> (k, tiled parameters): the per-call work is one dict lookup

    def tiles(per, acc):
        # NumPy loops over the last axis only: with few channels, view the rows k at a time against
        # parameters tiled k times (as common.ChannelBias).
        hit = by_size.get(acc.size)
        if hit is not None:
            return hit
        rows = acc.size // n if n else 0
        k = math.gcd(rows, max(1, TILE_ELEMENTS // max(n, 1)))
        if k not in tiled:
            tiled[k] = tuple(np.tile(a, k) if isinstance(a, np.ndarray) else a for a in per)
        by_size[acc.size] = (k, tiled[k])
        return by_size[acc.size]

    # float64: zp + 128 instead of zp makes every clamped value nonnegative (module docstring).
    shifted = [c + (128 << t) for c, t in zip(consts, total)]
    if all(acc_abs_max * m + abs(c) <= FLOAT64_EXACT for m, c in zip(mult, shifted)):
        per_f = (np.array([m * 2.0 ** -t for m, t in zip(mult, total)], np.float64),
                 np.array([c * 2.0 ** -t for c, t in zip(shifted, total)], np.float64))

        lo_u, hi_u = np.float64(lo + 128), np.float64(hi + 128)

        def run_float64(acc: np.ndarray) -> np.ndarray:
            k, (m_arr, c_arr) = tiles(per_f, acc)
            t = np.multiply(acc.reshape(-1, k * n), m_arr, dtype=np.float64)
            t += c_arr
            if t.size > CLIP_ONE_PASS:
                np.clip(t, lo_u, hi_u, out=t)  # one pass over a large array
            else:
                np.maximum(t, lo_u, out=t)  # the ufuncs directly: np.clip adds microseconds of Python
                np.minimum(t, hi_u, out=t)
            u = t.astype(np.uint8)
            u ^= 128
            return u.view(np.int8).reshape(acc.shape)

        return run_float64
    top = max(total, default=31)
    up = [top - t for t in total]
    if all(acc_abs_max * (m << u) + abs(c << u) <= INT64_LIMIT for m, c, u in zip(mult, consts, up)):
        mult = [m << u for m, u in zip(mult, up)]
        consts = [c << u for c, u in zip(consts, up)]
        total = [top] * len(total)
    per = (np.array(mult, np.int64), np.array(consts, np.int64),
           total[0] if len(set(total)) == 1 else np.array(total, np.int64))

    def run(acc: np.ndarray) -> np.ndarray:
        k, (m_arr, c_arr, s_arr) = tiles(per, acc)
        t = acc.astype(np.int64).reshape(-1, k * n)
        t *= m_arr
        t += c_arr
        t >>= s_arr
        if t.size > CLIP_ONE_PASS:
            np.clip(t, lo, hi, out=t)
        else:
            np.maximum(t, lo, out=t)
            np.minimum(t, hi, out=t)
        return t.astype(np.int8).reshape(acc.shape)

    return run

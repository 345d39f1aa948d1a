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

`fold_into_gemm` goes one step further for GEMMs whose work is small next to their output pass:
the per-channel factor M_c 2^-s_c moves into the weights, W'_jc = W_jc M_c 2^-s_c (exact: an 8-bit
times a 31-bit integer, scaled by a power of two), and the GEMM runs in float64 on the raw int8
rows. Every product x_j W'_jc and every partial sum, in any order and with or without fused
multiply-adds, is 2^-s_c times an integer of magnitude <= |acc|_max M_c <= 2^53, hence exact; so
the GEMM returns exactly acc M_c 2^-s_c, and the stage is left with the add, the clamp and the
cast: one pass over the output fewer, and no float32 -> float64 conversion of the accumulators.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from ..quant import clip_ufunc as _clip_ufunc
from .common import TILE_ELEMENTS

INT64_LIMIT = (1 << 63) - 1
FLOAT64_EXACT = 1 << 53


def fold(multiplier, shift, bias, y_zp: int, lo: int, hi: int, acc_abs_max: int) -> Optional[Callable]:
    """run(acc) -> int8, acc integer-valued (int64 or an exact float), of shape (..., channels);
    None when a left shift or the int64 range rules the folded form out."""
    channels = _channels(multiplier, shift, bias)
    if channels is None:
        return None
    n, mult, shifts, b = channels
    # float64: zp + 128 instead of zp makes every clamped value nonnegative (module docstring).
    params = _float64_params(channels, y_zp, acc_abs_max)
    if params is not None:
        tiles_f = _Tiles(n, params)
        lo_u, hi_u = np.float64(lo + 128), np.float64(hi + 128)

        def run_float64(acc: np.ndarray) -> np.ndarray:
            k, (m_arr, c_arr) = tiles_f(acc)
            t = np.multiply(acc.reshape(-1, k * n), m_arr, dtype=np.float64)
            t += c_arr
            return _shifted_to_int8(t, lo_u, hi_u).reshape(acc.shape)

        return run_float64
    consts, total = [], []
    for m, s, bc in zip(mult, shifts, b):
        c, t = _constant(m, s, bc, y_zp)
        if acc_abs_max * m + abs(c) > INT64_LIMIT:
            return None
        consts.append(c)
        total.append(t)
    top = max(total, default=31)
    up = [top - t for t in total]
    if all(acc_abs_max * (m << u) + abs(c << u) <= INT64_LIMIT for m, c, u in zip(mult, consts, up)):
        mult = [m << u for m, u in zip(mult, up)]
        consts = [c << u for c, u in zip(consts, up)]
        total = [top] * len(total)
    per = (np.array(mult, np.int64), np.array(consts, np.int64))
    s_arr = total[0] if len(set(total)) == 1 else None
    if s_arr is None:
        per = per + (np.array(total, np.int64),)
    tiles = _Tiles(n, per)

    def run(acc: np.ndarray) -> np.ndarray:
        k, arrs = tiles(acc)
        t = acc.astype(np.int64).reshape(-1, k * n)
        t *= arrs[0]
        t += arrs[1]
        t >>= s_arr if s_arr is not None else arrs[2]
        _clip_ufunc(t, lo, hi, out=t)
        return t.astype(np.int8).reshape(acc.shape)

    return run


SMALL_GEMM = 1 << 17  # multiply-adds per call up to which a float64 GEMM beats float32 + a scaling pass
SHORT_K = 128  # reduction length up to which it does at any size (the saved pass is 1/K of the GEMM)
SMALL_WEIGHTS = 1 << 15  # weights per layer kept in float64 at most (256 KiB): RAM stays near the float32 copy


def gemm_is_small(rows: int, k: int, n: int) -> bool:
    return k * n <= SMALL_WEIGHTS and (k <= SHORT_K or rows * k * n <= SMALL_GEMM)


def fold_into_gemm(w_in_out: np.ndarray, multiplier, shift, bias, y_zp: int, lo: int, hi: int,
                   acc_abs_max: int) -> "Optional[ScaledGemm]":
    """The ruy output stage of raw_rows @ w_in_out folded into a float64 GEMM (module docstring), or
    None when the float64 bound or a left shift rules it out. `bias` is the folded bias (zero point
    and bias), as for `fold`."""
    channels = _channels(multiplier, shift, bias)
    params = None if channels is None else _float64_params(channels, y_zp, acc_abs_max)
    if params is None or w_in_out.ndim != 2 or w_in_out.shape[1] != len(params[0]):
        return None
    return ScaledGemm(w_in_out, params[0], params[1], lo, hi)


class ScaledGemm:
    """w: W M 2^-s (K, N) float64; finish(rows_float64 @ w) -> int8 adds C' 2^-s, clamps and casts.

    `__call__(x2d)` runs a whole int8 FULLY_CONNECTED on (rows, K) int8: the rows are copied into a
    float64 buffer with one more column of ones, and C' 2^-s is that column's weight row, so the
    GEMM adds it (C' 2^-s is 2^-s times an integer within the same 2^53 bound: exact). Buffers are
    kept per row count (one call at a time per kernel, as every scratch buffer of the runtime)."""

    def __init__(self, w_in_out: np.ndarray, m_f: np.ndarray, c_f: np.ndarray, lo: int, hi: int):
        k, n = w_in_out.shape
        self.n = n
        self.w = np.ascontiguousarray(w_in_out.astype(np.float64) * m_f)
        self._w_aug = np.ascontiguousarray(np.vstack([self.w, c_f[None, :]]))
        self._lo, self._hi = np.float64(lo + 128), np.float64(hi + 128)
        self._tiles = _Tiles(n, (c_f,))
        self._buffers = {}  # rows -> (rows, K + 1) buffer with its last column 1, its (rows, K) view

    def finish(self, t: np.ndarray) -> np.ndarray:
        k, (c_arr,) = self._tiles(t)
        v = t.reshape(-1, k * self.n)
        v += c_arr
        return _shifted_to_int8(v, self._lo, self._hi).reshape(t.shape)


    def __call__(self, x2d: np.ndarray) -> np.ndarray:
        hit = self._buffers.get(len(x2d))
        if hit is None:
            buf = np.ones((len(x2d), self._w_aug.shape[0]), np.float64)
            if len(self._buffers) >= 8:
                self._buffers.clear()
            hit = self._buffers[len(x2d)] = (buf, buf[:, :-1])
        buf, head = hit
        np.copyto(head, x2d)
        return _shifted_to_int8(buf @ self._w_aug, self._lo, self._hi)


def _shifted_to_int8(t: np.ndarray, lo_u, hi_u) -> np.ndarray:
    """floor(clamp(t, lo + 128, hi + 128)) - 128 as int8, t float64 (in place): the float64 stage's
    last steps (module docstring: the uint8 cast is floor on the clamped values, ^ 128 the shift)."""
    _clip_ufunc(t, lo_u, hi_u, out=t)
    u = t.astype(np.uint8)
    u ^= 128
    return u.view(np.int8)


def _float64_params(channels, y_zp: int, acc_abs_max: int):
    """Per channel (M_c 2^-t_c, C'_c 2^-t_c) as float64 arrays, C' with zp + 128 (module docstring),
    from `_channels`' result, or None when the 2^53 bound rules the float64 form out."""
    _, mult, shifts, b = channels
    m_f, c_f = [], []
    for m, s, bc in zip(mult, shifts, b):
        c, t = _constant(m, s, bc, y_zp + 128)
        if acc_abs_max * m + abs(c) > FLOAT64_EXACT:
            return None
        m_f.append(m * 2.0 ** -t)
        c_f.append(c * 2.0 ** -t)
    return np.array(m_f, np.float64), np.array(c_f, np.float64)


def _constant(m: int, s: int, bias: int, zp: int):
    """(C_c, 31 + r_c) of the module docstring for one channel: multiplier m, shift s = -r_c <= 0."""
    r = -s
    return bias * m + (1 << 30) + (((1 << r) >> 1) << 31) + (zp << (31 + r)), 31 + r


def _channels(multiplier, shift, bias):
    """(n, multipliers, shifts, biases) as Python ints per channel, per-tensor values repeated; None
    when a left shift or a negative multiplier rules the folded forms out."""
    mult = [int(m) for m in np.asarray(multiplier).ravel()]
    shifts = [int(s) for s in np.asarray(shift).ravel()]
    n = max(len(mult), len(shifts), 0 if bias is None else len(bias))
    mult = mult * n if len(mult) == 1 else mult
    shifts = shifts * n if len(shifts) == 1 else shifts
    b = [0] * n if bias is None else [int(v) for v in bias]
    if any(s > 0 for s in shifts) or any(m < 0 for m in mult):
        return None
    return n, mult, shifts, b


class _Tiles:
    """NumPy loops over the last axis only: with few channels, an output is viewed k rows at a time
    against parameters tiled k times (as common.ChannelBias); one dict lookup per call."""

    def __init__(self, n: int, per):
        self.n, self.per = n, per
        self._tiled, self._by_size = {}, {}

    def __call__(self, acc: np.ndarray):
        hit = self._by_size.get(acc.size)
        if hit is not None:
            return hit
        n = self.n
        rows = acc.size // n if n else 0
        k = math.gcd(rows, max(1, TILE_ELEMENTS // max(n, 1)))
        if k not in self._tiled:
            self._tiled[k] = tuple(np.tile(a, k) for a in self.per)
        self._by_size[acc.size] = (k, self._tiled[k])
        return self._by_size[acc.size]

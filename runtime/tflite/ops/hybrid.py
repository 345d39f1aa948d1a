"""Dynamic-range ("hybrid") kernels: float activations, int8 weights (Optimize.DEFAULT without data).

LiteRT quantizes each batch row of the float input on the fly, runs an integer dot product, and
scales back to float. The row quantization decides the result, so it is reproduced exactly
(tensor_utils Neon{A,}SymmetricQuantizeFloats, which LiteRT's x86 build runs through NEON_2_SSE):
asymmetric rows map [min(0, min x), max(0, max x)] onto [-128, 127] with a nudged zero point;
symmetric rows use scale max|x|/127. Both multiply by a float32 reciprocal and round half away
from zero, the 8-lane loop with one float32 quirk (see _round_into). Reference: Krishnamoorthi,
"Quantizing deep convolutional networks for efficient inference", 2018, section 3.

The rows are tiny (one to a few dozen rows of 20..1280 values), so the cost is the number of NumPy
calls, not the arithmetic: a single row's parameters are computed in Python floats, several rows'
in a handful of calls on (rows,) vectors, and the rounding of both loops is three float32 calls.
Every step keeps LiteRT's float32/float64 types; the docstrings say why each is exact.
"""
from __future__ import annotations

import math

import numpy as np

from .. import quant
from .common import TILE_ELEMENTS

F32 = np.float32
F64 = np.float64
_ONE32 = F32(1)
_BELOW_HALF_32 = F32(0.5) - F32(2.0 ** -25)
_HALVES = {}
_SIGN = np.uint32(0x80000000)
_WHOLE_TILE = 1 << 14  # HybridOutput tiles an image's scales and bias up to this many elements
_BIG = 2048  # elements from which _round_into builds copysign from bit operations
_127_32 = F32(127)
# round half away from zero of a float64 |z| < 2^52: trunc(z + copysign(0.5 - 2^-54, z)). The sum
# rounds up to the next integer exactly when z's fraction is >= 1/2 (0.5 itself rounds the
# 1 - 2^-54 up; any fraction below 1/2 stays below, as its distance to 1/2 is >= one ulp of z).
_HALF_BELOW = 0.5 - 2.0 ** -54
# asymmetric rows: [[qmin], [qmax]] for the zero-point candidates, and the clamp bounds
_ZP_FROM = np.array([-128.0, 127.0]).reshape(2, 1)
_BOUNDS = np.array([-128.0, 127.0], F32).reshape(2, 1, 1)


def _halves(n: int) -> np.ndarray:
    """The float32 addend of each lane of a row of n values (see _round_into), cached per n."""
    h = _HALVES.get(n)
    if h is None:
        h = np.full(n, _BELOW_HALF_32, F32)
        h[:(n // 8) * 8] = 0.5
        _HALVES[n] = h
    return h


def _round_into(p: np.ndarray, sign: int = 0) -> None:
    """p (rows, n) float32 products -> LiteRT's rounding, in place: trunc(p + copysign(h, p)) in
    float32 (small integers, exact). sign: +1 or -1 when every p has that sign (or is zero), so the
    copysign is a constant; 0 when unknown.

    The 8-lane loop runs RoundToNearest's pre-ARMv8 form (NEON_2_SSE on x86): h = 0.5, added in
    float32, then truncated: round half away from zero, except that +-(0.5 - 2^-25) sums to
    +-1.0 and becomes +-1. The scalar tail's TfLiteRound is round half away from zero exactly:
    h = 0.5 - 2^-25, the float32 just below 1/2, makes the float32 sum reach the next integer
    exactly when |p|'s fraction is >= 1/2 (a tie sums to within 2^-25 of it and rounds up; any
    other fraction stays at least one ulp of p short of it). A zero p gives +-0 either way."""
    h = _halves(p.shape[1])
    if sign > 0:
        p += h
    elif sign < 0:
        p -= h
    else:
        if p.size < _BIG:
            h = np.copysign(h, p)
        else:  # np.copysign is a scalar loop; the sign bit's AND / OR are vectorized
            bits = np.bitwise_and(p.view(np.uint32), _SIGN)
            bits |= h.view(np.uint32)
            h = bits.view(F32)
        p += h
    np.trunc(p, out=p)


def _ones11():
    return np.ones((1, 1), F32)


def _asymmetric_one(lo: float, hi: float):
    """One row's (scaling factor, offset) from its min(0, min x) and max(0, max x), as
    NeonAsymmetricQuantizeFloats computes them; None for an all-zero row.

    hi - lo is a float32 subtraction: Python's float64 difference rounded once to float32 is that
    correctly rounded result (float64 carries more than 2 * 24 + 2 bits). The scale, the zero-point
    candidates and their errors are float64, as in C, and the rounding of the zero point is exact
    (_HALF_BELOW); the offset is round(zero point) clamped to
    [-128, 127], and needs no clamp here: the zero point from min lies in [-128, 127 + 1e-13] and
    the one from max in [-128 - 1e-13, 127], which round to the clamp anyway."""
    d = float(F32(hi - lo))
    if d == 0.0:
        return None
    scale = d / 255.0
    a, b = lo / scale, hi / scale
    zp = -128.0 - a if 128.0 - a < 127.0 + b else 127.0 - b
    return F32(scale), float(math.trunc(zp + math.copysign(_HALF_BELOW, zp)))


def asymmetric_rows(x: np.ndarray):
    """x (rows, n) float32 -> (q - offset as float32 (rows, n), scaling factor float32 (rows, 1),
    offset float32 (rows, 1)): NeonAsymmetricQuantizeFloats. q - offset lies in [-255, 255] and q
    in [-128, 127]. An all-zero row gives q - offset = 0, so its dot products are 0 whatever its
    scaling factor and offset (one row reports LiteRT's 1 and 0; several rows, 1/255 and 127, as
    consistent: q = 127)."""
    if len(x) == 1:
        lo = float(np.minimum.reduce(x, None, None, None, False, 0.0))
        hi = float(np.maximum.reduce(x, None, None, None, False, 0.0))
        params = _asymmetric_one(lo, hi)
        if params is None:
            return np.zeros(x.shape, F32), _ones11(), np.zeros((1, 1), F32)
        sf, off = params
        inv = _ONE32 / sf  # the float32 reciprocal
        p = np.multiply(x, inv)
        _round_into(p, 1 if lo == 0.0 else -1 if hi == 0.0 else 0)
        # clamp(q + offset) - offset = clamp(q) to the shifted bounds, needed only when the row's
        # extreme products lo * inv, hi * inv (float32: within 2e-5 of the float64 ones here) come
        # near a bound's half-point (a near-tie or the 8-lane loop's +-(0.5 - 2^-25): rarely)
        inv = float(inv)
        if lo * inv + off < -128.49:
            np.maximum(p, -128.0 - off, out=p)
        if hi * inv + off > 127.49:
            np.minimum(p, 127.0 - off, out=p)
        sf_off = np.array([sf, off], F32)[:, None, None]
        return p, sf_off[0], sf_off[1]
    ext = np.empty((2, len(x)), F32)  # [min(0, row min), max(0, row max)]
    np.minimum.reduce(x, 1, None, ext[0], False, 0.0)
    np.maximum.reduce(x, 1, None, ext[1], False, 0.0)
    d = ext[1] - ext[0]
    np.add(d, d == 0, out=d)  # an all-zero row: any range quantizes it to 0 (then offset 127)
    scale = np.divide(d, 255.0, dtype=F64)
    ab = ext / scale  # rmin / scale, rmax / scale in float64
    zps = _ZP_FROM - ab  # the zero points from min and from max
    # C picks the one with the smaller error, 128 + |a| < 127 + |b|, that is b + a > 1 (a <= 0 <= b).
    # The two float64 forms can disagree only within ~1e-13 of b - |a| = 1, where both zero points
    # are -1 +- 2e-5 (they always differ by |a| + b - 255, |.| < 2e-5) and round alike.
    zp = np.where(np.add(ab[0], ab[1]) > 1.0, zps[0], zps[1])
    off = np.trunc(zp + np.copysign(_HALF_BELOW, zp))[:, None]  # round half away; no clamp (_asymmetric_one)
    sf = scale.astype(F32)[:, None]
    bounds = np.subtract(_BOUNDS, off, dtype=F32)
    p = x * np.divide(_ONE32, sf)
    _round_into(p)
    np.maximum(p, bounds[0], out=p)
    np.minimum(p, bounds[1], out=p)
    return p, sf, off.astype(F32)


def symmetric_rows(x: np.ndarray):
    """x (rows, n) float32 -> (q as float32 (rows, n) in [-127, 127], scaling factor float32 (rows, 1),
    zero offsets (rows, 1)): NeonSymmetricQuantizeFloats. range = max|x| (float32), scaling factor
    range / 127 and reciprocal 127 / range, each one float32 division; an all-zero row gives q = 0,
    scaling factor 1."""
    if len(x) == 1:
        rng = float(np.maximum.reduce(np.abs(x), None, None, None, False, 0.0))
        if rng == 0.0:
            return np.zeros(x.shape, F32), _ones11(), np.zeros((1, 1), F32)
        inv = F32(127.0 / rng)  # float32 127 / range: the float64 quotient rounded once
        p = np.multiply(x, inv)
        _round_into(p)
        if rng * float(inv) > 127.49:  # |p| <= rng * inv rounds past 127: never for a normal range
            np.maximum(p, -127.0, out=p)
            np.minimum(p, 127.0, out=p)
        sf_off = np.array([rng / 127.0, 0.0], F32)[:, None, None]
        return p, sf_off[0], sf_off[1]
    rng = np.maximum.reduce(np.abs(x), 1, None, None, True, 0.0)
    np.copyto(rng, _127_32, where=rng == 0)  # all-zero rows: scaling factor 1, q = 0
    p = x * np.divide(_127_32, rng)
    _round_into(p)
    np.maximum(p, -127.0, out=p)
    np.minimum(p, 127.0, out=p)
    return p, rng / _127_32, np.zeros((len(x), 1), F32)


class RowQuantizer:
    """Quantizes one float tensor's rows for every hybrid op that reads it, once per invoke.

    The Q, K and V projections of an attention block read the same activations with the same row
    length and mode: the first computes the rows, the others reuse them. The memo is the
    interpreter's per-call dictionary (OpContext.memo), emptied at the start of every run, so a
    caller refilling its input array in place between runs never sees stale rows. Returns
    (q - offset float32 (rows, n), scaling factor float32 (rows, 1), offset float32 (rows, 1)).
    """

    def __init__(self, memo, tensor: int, asymmetric: bool):
        self._memo = memo
        self._fn = asymmetric_rows if asymmetric else symmetric_rows
        self._key = ("hybrid rows", tensor, asymmetric)

    def __call__(self, x: np.ndarray, row_len: int):
        memo = self._memo
        key = self._key + (row_len,)
        if memo is not None:
            hit = memo.get(key)
            if hit is not None:
                return hit
        rows = x.reshape(-1, row_len)
        out = self._fn(rows if rows.dtype == F32 else rows.astype(F32))
        if memo is not None:
            memo[key] = out
        return out


def weight_scales(ctx, w_tensor, n_out: int) -> np.ndarray:
    q = w_tensor.quantization
    if q is None or not q.scale or len(q.scale) not in (1, n_out):
        raise ctx.unsupported(f"int8 weights {w_tensor.name!r} without usable quantization scales")
    if any(z != 0 for z in q.zero_point):
        raise ctx.unsupported(f"int8 weights {w_tensor.name!r} with a nonzero zero point")
    return np.ascontiguousarray(np.broadcast_to(np.asarray(q.scale, F32), (n_out,)))


def is_per_channel(scales: np.ndarray) -> bool:
    """conv.cc: hybrid per-channel when the scales are not all equal."""
    return bool(np.any(scales != scales[0]))


def _activation_inplace(y: np.ndarray, act: str) -> np.ndarray:
    if act == "NONE":
        return y
    if act == "RELU":
        return np.maximum(y, F32(0), out=y)
    if act == "RELU6":
        return np.clip(y, F32(0), F32(6), out=y)
    return quant.float_activation(y, act)


class HybridOutput:
    """The hybrid kernels' output stage: float(acc) times the row scale (one per leading row of
    `acc`: row_scale (rows, 1)) and the weight scale of its output channel (the last axis), plus
    bias, then the fused activation, in LiteRT's float32 arithmetic. `acc` (rows, n_out) or (rows,
    m, n_out) holds exact integers, float32 or float64 (then rounded to float32 first, as LiteRT's
    float(int32 acc)), and is overwritten.

    FULLY_CONNECTED and CONV_2D multiply by float32(row_scale * weight_scale); DEPTHWISE_CONV_2D
    (channel_first) by the weight scale, then the row scale: acc * weight_scale * row_scale, left to
    right. One image of many pixels (rows = 1, m > 1) shares one row scale: its (m, n_out) block is
    viewed as (m / t, t * n_out) against the weight scales and bias tiled t times (t = m for a small
    block, else as common.ChannelBias), so NumPy's inner loops run long for few channels; each tiled
    product is the same float32 product.
    """

    def __init__(self, scales: np.ndarray, bias, act: str, channel_first: bool = False):
        self._scales = np.asarray(scales, F32)
        self._bias = None if bias is None else np.asarray(bias, F32)
        self._act = act
        self._channel_first = channel_first
        self._tiles = {}

    def _tiled(self, m: int):
        n = self._scales.size
        # the whole block when small (same-shape operands run fastest), else a divisor of m
        t = m if m * n <= _WHOLE_TILE else math.gcd(m, max(1, TILE_ELEMENTS // max(n, 1)))
        hit = self._tiles.get(t)
        if hit is None:
            hit = self._tiles[t] = (t, np.tile(self._scales, t),
                                    None if self._bias is None else np.tile(self._bias, t))
        return hit

    def __call__(self, acc: np.ndarray, row_scale: np.ndarray) -> np.ndarray:
        y = acc if acc.dtype == F32 else acc.astype(F32)
        shape = y.shape
        if y.ndim == 3 and len(y) == 1 and shape[1] > 1:
            t, scales, bias = self._tiled(shape[1])
            y = y.reshape(-1, t * self._scales.size)
            sf = row_scale[0, 0]
        else:
            scales, bias, sf = self._scales, self._bias, row_scale if y.ndim == 2 else row_scale[:, :, None]
        if self._channel_first:
            y *= scales
            y *= sf
        else:
            scale = sf * scales  # float32 (rows, [1,] n_out)
            y *= scale
        if bias is not None:
            y += bias
        return _activation_inplace(y, self._act).reshape(shape)

"""Dynamic-range ("hybrid") kernels: float activations, int8 weights (Optimize.DEFAULT without data).

LiteRT quantizes each batch row of the float input on the fly, runs an integer dot product, and
scales back to float. The row quantization decides the result, so it is reproduced exactly
(tensor_utils Neon{A,}SymmetricQuantizeFloats, which LiteRT's x86 build also runs): asymmetric rows
map [min(0, min x), max(0, max x)] onto [-128, 127] with a nudged zero point; symmetric rows use
scale max|x|/127. Both multiply by a float32 reciprocal and round to nearest-even in the 8-lane loop,
and half away from zero in the scalar tail. Reference: Krishnamoorthi, "Quantizing deep convolutional
networks for efficient inference", 2018, section 3.
"""
from __future__ import annotations

import math

import numpy as np

from .. import quant
from ..quant import round_half_away

F32 = np.float32


def _round_rows(prod32: np.ndarray) -> np.ndarray:
    """Vector lanes: rint; tail of each row: round half away from zero. float32 in, float32 out
    (the rounded values are small integers, exact in float32)."""
    q = np.rint(prod32)
    vec = (prod32.shape[1] // 8) * 8
    if vec < prod32.shape[1]:
        q[:, vec:] = round_half_away(prod32[:, vec:])
    return q


def _asymmetric_params(lo, hi):
    """One row's (scaling factor, offset) from its float32 min and max, in Python scalars with
    the float32/float64 steps of the vectorized form below (one row: no per-row arrays)."""
    rmin = min(np.float32(lo), F32(0))
    rmax = max(np.float32(hi), F32(0))
    if rmin == rmax:
        return F32(1), F32(0), True
    scale = float(F32(rmax - rmin)) / 255.0
    a, b = float(rmin) / scale, float(rmax) / scale
    zp = -128.0 - a if (128.0 + abs(a)) < (127.0 + abs(b)) else 127.0 - b
    offset = -128 if zp <= -128.0 else 127 if zp >= 127.0 else math.copysign(math.floor(abs(zp) + 0.5), zp)
    return F32(scale), F32(offset), False


def asymmetric_rows(x: np.ndarray):
    """x (rows, n) float32 -> (q - offset as float32 (rows, n), scaling_factor float32 (rows,)):
    NeonAsymmetricQuantizeFloats. q - offset lies in [-255, 255]."""
    if len(x) == 1:
        sf, offset, flat = _asymmetric_params(x.min(initial=0.0), x.max(initial=0.0))
        if flat:
            return np.zeros(x.shape, F32), np.ones(1, F32)
        inv = F32(1.0 / float(sf))
        q = _round_rows(x * inv)
        q += offset
        np.maximum(q, -128, out=q)
        np.minimum(q, 127, out=q)
        q -= offset
        return q, np.array([sf], F32)
    rmin = x.min(axis=1, initial=F32(0))  # min(0, row min), float32
    rmax = x.max(axis=1, initial=F32(0))
    flat = rmin == rmax
    scale = (rmax - rmin).astype(np.float64) / 255.0
    scale[flat] = 1.0
    a, b = rmin / scale, rmax / scale
    zp = np.where((128.0 + np.abs(a)) < (127.0 + np.abs(b)), -128.0 - a, 127.0 - b)
    offset = np.where(zp <= -128.0, -128, np.where(zp >= 127.0, 127, round_half_away(zp)))
    offset = np.where(flat, 0, offset).astype(F32)
    sf = scale.astype(F32)
    inv = (1.0 / sf.astype(np.float64)).astype(F32)
    q = _round_rows(x * inv[:, None])
    q += offset[:, None]
    np.clip(q, -128, 127, out=q)
    q -= offset[:, None]
    if flat.any():
        q[flat] = 0
    return q, np.where(flat, F32(1), sf)


def symmetric_rows(x: np.ndarray):
    """x (rows, n) float32 -> (q as float32 (rows, n) in [-127, 127], scaling_factor float32 (rows,)):
    NeonSymmetricQuantizeFloats."""
    if len(x) == 1 and x.size:
        rng = max(abs(x.min()), abs(x.max()))
        if rng == 0:
            return np.zeros(x.shape, F32), np.ones(1, F32)
        q = _round_rows(x * (F32(127) / rng))
        np.maximum(q, -127, out=q)
        np.minimum(q, 127, out=q)
        return q, np.array([rng / F32(127)], F32)
    rng = np.maximum(np.abs(x.min(axis=1)), np.abs(x.max(axis=1))).astype(F32)
    flat = rng == 0
    safe = np.where(flat, F32(1), rng)
    sf = (safe / F32(127)).astype(F32)
    inv = (F32(127) / safe).astype(F32)
    q = _round_rows(x * inv[:, None])
    np.clip(q, -127, 127, out=q)
    if flat.any():
        q[flat] = 0
    return q, np.where(flat, F32(1), sf)


def asymmetric_quantize_rows(x: np.ndarray):
    """x (rows, n) float32 -> (q int64, scaling_factor float32 (rows,), offset int64 (rows,))."""
    qo, sf = asymmetric_rows(x)
    return qo.astype(np.int64), sf, np.zeros(len(x), np.int64)


def symmetric_quantize_rows(x: np.ndarray):
    """x (rows, n) float32 -> (q int64, scaling_factor float32 (rows,), zero offsets)."""
    q, sf = symmetric_rows(x)
    return q.astype(np.int64), sf, np.zeros(len(x), np.int64)


class RowQuantizer:
    """Quantizes one float tensor's rows for every hybrid op that reads it, once per invoke.

    The Q, K and V projections of an attention block read the same activations with the same row
    length and mode: the first computes the rows, the others reuse them. The memo is the
    interpreter's per-call dictionary (OpContext.memo), emptied at the start of every run, so a
    caller refilling its input array in place between runs never sees stale rows.
    """

    def __init__(self, memo, tensor: int, asymmetric: bool):
        self._memo = memo
        self._tensor = tensor
        self._fn = asymmetric_rows if asymmetric else symmetric_rows
        self._asym = asymmetric

    def __call__(self, x: np.ndarray, row_len: int):
        key = ("hybrid rows", self._tensor, self._asym, row_len)
        memo = self._memo
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
    return np.broadcast_to(np.asarray(q.scale, F32), (n_out,))


def is_per_channel(scales: np.ndarray) -> bool:
    """conv.cc: hybrid per-channel when the scales are not all equal."""
    return bool(np.any(scales != scales[0]))


def hybrid_output(acc: np.ndarray, row_scale: np.ndarray, scales: np.ndarray, bias, act) -> np.ndarray:
    """The hybrid kernels' output stage: y = bias + acc * float32(row_scale * weight_scale), with one
    row scale per leading row of `acc` and one weight scale per output channel (its last axis).
    `acc` holds exact integers (float32 or float64); the products are taken in float64."""
    scale = (row_scale[:, None] * scales[None, :]).astype(np.float32)
    shape = (scale.shape[0],) + (1,) * (acc.ndim - 2) + (scale.shape[1],)
    if acc.dtype == np.float32:
        # acc is exact here (its GEMM ran in float32 because every sum is below 2^24): LiteRT's
        # own float32 arithmetic, float(acc) * scale + bias, in float32
        y = np.multiply(acc, scale.reshape(shape))
        if bias is not None:
            y += bias
        return quant.float_activation(y, act)
    y = np.multiply(acc, scale.astype(np.float64).reshape(shape), dtype=np.float64)
    if bias is not None:
        y += bias
    return quant.float_activation(y.astype(np.float32), act)

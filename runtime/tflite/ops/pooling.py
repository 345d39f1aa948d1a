"""MAX_POOL_2D and AVERAGE_POOL_2D over strided windows (pooling.cc).

Padding never takes part: max pools pad with the dtype's minimum, average pools divide by the number of
in-image elements. int8 average: (sum + n/2) / n, rounding halves away from zero in C integer division,
on the raw int8 values (in and out share scale and zero point).
"""
from __future__ import annotations

import numpy as np

from .. import quant
from .common import PaddedInput, out_size_and_pad, pad_hw, windows
from .registry import register


def _geometry(ctx):
    o = ctx.options
    return o["filter_height"], o["filter_width"], o["stride_h"], o["stride_w"], o["padding"]


class Pooled:
    """The (N, OH, OW, KH, KW, C) window view of x padded with `fill`, through a padded buffer made
    once per input shape (common.PaddedInput): no padding arithmetic per call."""

    def __init__(self, geometry, fill, dtype):
        kh, kw, sh, sw, padding = geometry
        self._pad = PaddedInput((kh, kw, sh, sw, 1, 1, padding), fill, dtype)

    def __call__(self, x):
        return self._pad.windows(x)


def _pooled(x, geometry, pad_value):
    kh, kw, sh, sw, padding = geometry
    n, h, w, c = x.shape
    oh, pt, pb = out_size_and_pad(padding, h, kh, sh)
    ow, pl, pr = out_size_and_pad(padding, w, kw, sw)
    return windows(pad_hw(x, (pt, pb), (pl, pr), pad_value), oh, ow, kh, kw, sh, sw)


def avg_pool_counts(x_shape, geometry):
    ones = np.ones((1,) + tuple(x_shape[1:3]) + (1,), np.int64)
    return _pooled(ones, geometry, 0).sum(axis=(3, 4))


def _prep(ctx):
    if len(ctx.inputs[0].shape) != 4:
        raise ctx.unsupported("only 4-D NHWC input")
    act = ctx.activation()
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "int8":
        s_in, z_in = ctx.qparams(ctx.inputs[0])
        s_out, z_out = ctx.qparams(ctx.outputs[0])
        # LiteRT only DCHECKs that input and output share scale and zero point, and pools raw values;
        # so do we (the converter always gives them the same parameters).
        lo, hi = quant.activation_range(act, s_out, z_out, np.int8)
        return dt, act, (lo, hi)
    return dt, act, None


@register("MAX_POOL_2D")
def build_max_pool(ctx):
    geometry = _geometry(ctx)
    dt, act, rng = _prep(ctx)
    if dt == "float32":
        pooled = Pooled(geometry, -np.inf, np.float32)
        return lambda ins: [quant.float_activation(pooled(ins[0]).max(axis=(3, 4)), act)]
    pooled = Pooled(geometry, -128, np.int8)
    lo, hi = rng
    if lo == -128 and hi == 127:
        return lambda ins: [pooled(ins[0]).max(axis=(3, 4))]
    return lambda ins: [np.clip(pooled(ins[0]).max(axis=(3, 4)), lo, hi).astype(np.int8)]


@register("AVERAGE_POOL_2D")
def build_average_pool(ctx):
    geometry = _geometry(ctx)
    dt, act, rng = _prep(ctx)
    counts_by_shape = {}
    pooled = Pooled(geometry, 0, np.float32 if dt == "float32" else np.int64)

    def run(ins):
        x = ins[0]
        counts = counts_by_shape.get(x.shape[1:3])
        if counts is None:
            counts = counts_by_shape[x.shape[1:3]] = avg_pool_counts(x.shape, geometry)
        if dt == "float32":
            s = pooled(x).sum(axis=(3, 4), dtype=np.float32)
            return [quant.float_activation((s / counts).astype(np.float32), act)]
        s = pooled(x).sum(axis=(3, 4))
        half = counts // 2
        q = np.where(s > 0, (s + half) // counts, -((-s + half) // counts))
        return [np.clip(q, rng[0], rng[1]).astype(np.int8)]

    return run

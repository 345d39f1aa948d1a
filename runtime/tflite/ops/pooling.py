"""MAX_POOL_2D and AVERAGE_POOL_2D over strided windows (pooling.cc).

Padding never takes part: max pools pad with the dtype's minimum, average pools divide by the number of
in-image elements. int8 average: (sum + n/2) / n, rounding halves away from zero in C integer division,
on the raw int8 values (in and out share scale and zero point).

Max pools whose windows tile the input exactly (window = stride, no padding: VALID, or SAME on sizes
the stride divides) skip the padded buffer and the 6-D window reduction: the input is viewed as
(N*OH, KH, OW, KW*C) rows for runtime/tiled_max.py (`TiledMax`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...tiled_max import max_over_tiles
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


class TiledMax:
    """Max over windows that tile the input exactly (module docstring); `for_geometry` gives None
    when they do not."""

    def __init__(self, kh: int, kw: int, general):
        self.kh, self.kw = kh, kw
        self._general = general  # for an input shape the windows do not tile

    @classmethod
    def for_geometry(cls, geometry, x_shape, general) -> "Optional[TiledMax]":
        kh, kw, sh, sw, padding = geometry
        if (kh, kw) != (sh, sw) or len(x_shape) != 4 or kh * kw <= 1:
            return None
        _, h, w, _ = x_shape
        if not (h > 0 and w > 0 and h % kh == 0 and w % kw == 0):
            return None  # VALID would drop a remainder, SAME would pad: the general path
        return cls(kh, kw, general)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        kh, kw = self.kh, self.kw
        if h % kh or w % kw:  # another input shape than the one the kernel was built for
            return self._general(x)
        rows = x.reshape(n * (h // kh), kh, w // kw, kw * c)
        return max_over_tiles(rows, kw, c).reshape(n, h // kh, w // kw, c)


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
    pooled = Pooled(geometry, -np.inf if dt == "float32" else -128, np.float32 if dt == "float32" else np.int8)

    def general(x):
        return pooled(x).max(axis=(3, 4))

    pool = TiledMax.for_geometry(geometry, tuple(ctx.inputs[0].shape), general) or general
    if dt == "float32":
        return lambda ins: [quant.float_activation(pool(ins[0]), act)]
    lo, hi = rng
    if lo == -128 and hi == 127:
        return lambda ins: [pool(ins[0])]
    return lambda ins: [np.clip(pool(ins[0]), lo, hi).astype(np.int8)]


@register("AVERAGE_POOL_2D")
def build_average_pool(ctx):
    geometry = _geometry(ctx)
    dt, act, rng = _prep(ctx)
    counts_by_shape = {}
    pooled = Pooled(geometry, 0, np.float32 if dt == "float32" else np.int64)
    kh, kw, _, _, padding = geometry

    def run(ins):
        x = ins[0]
        if x.shape[1] == kh and x.shape[2] == kw and padding == "VALID":
            # one window over the whole image (a global average): the same sum, without the padded
            # copy and the 6-D window view
            s = x.sum(axis=(1, 2), keepdims=True, dtype=np.float32 if dt == "float32" else np.int64)
            counts = kh * kw
        else:
            counts = counts_by_shape.get(x.shape[1:3])
            if counts is None:
                counts = counts_by_shape[x.shape[1:3]] = avg_pool_counts(x.shape, geometry)
            s = pooled(x).sum(axis=(3, 4), dtype=np.float32 if dt == "float32" else None)
        if dt == "float32":
            return [quant.float_activation((s / counts).astype(np.float32), act)]
        a = np.abs(s)  # (|s| + n/2) / n with the sign of s: C's rounding integer division
        a += counts // 2
        a //= counts
        q = np.where(s < 0, -a, a)
        return [quant.clip_ufunc(q, rng[0], rng[1], out=q).astype(np.int8)]

    return run

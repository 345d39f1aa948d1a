"""DEPTHWISE_CONV_2D as one einsum over a strided view of the padded input (depthwise_conv.cc).

Output channel c*M + m reads input channel c (M = depth_multiplier). The input is copied once into a
padded buffer reused across invokes (common.PaddedInput); `Taps` sums the KH*KW products of every
output from a strided view of it.
int8 accumulates x * w in float32 over the raw int8 values, padded with x_zp, and folds
-x_zp * sum(w) into the bias (as conv.py): exact, since every partial sum is an integer of magnitude
<= 128 * sum |w| over the window (< 2^24 for any 3x3 or 5x5 window; else float64, by
weights_gemm_dtype). The bias is added and each channel requantized with CONV_2D's multipliers and
the rounding of LiteRT's depthwise output stage (see run_int).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import quant
from . import output_stage
from .common import ChannelBias, PaddedInput, conv_padding, weights_gemm_dtype, windows
from .conv import per_channel_requant
from .hybrid import HybridOutput, RowQuantizer, weight_scales
from .registry import register


class Taps:
    """sum over the window of xp * w for a padded NHWC xp and weights w (KH, KW, C*M), in `dtype`.

    One einsum per call: at column stride 1, output row y, tap (i, j) and l = x * C + c (the pixel
    and channel of one output row, merged) read xp at row y*SH + i*DH and flat position
    j*DW*C + l of that row, a (N, OH, KH, KW, OW*C) strided view of the buffer (no copy), and
    einsum("nyijl,ijl->nyl") against the weights tiled OW times along l (cached per OW) sums the
    KH*KW products of every output in one pass, with no temporaries: 3-4x faster than KH*KW
    multiply-add passes, and 2-10x faster than an einsum over the (N, OH, OW, KH, KW, C) window view
    (whose innermost loop is C long). A column stride S first splits xp into S phases (columns
    p, p+S, ...: one contiguous copy each); with DW = 1 the taps j = p, p+S, ... of phase p lie
    1 column apart in it, so each phase is one einsum of the same form and the phases add up.
    Exact for integer values: every partial sum lies within the window's bound, in any order.
    """

    def __init__(self, w: np.ndarray, mult_channels: int, geometry, dtype):
        self._w = w.astype(dtype)
        self._m = mult_channels
        self._geometry = geometry
        self._dtype = dtype
        self._tiled = {}

    def _weights(self, ow: int) -> np.ndarray:
        if ow not in self._tiled:
            self._tiled[ow] = np.ascontiguousarray(np.tile(self._w, (1, 1, ow)))
        return self._tiled[ow]

    def __call__(self, xp: np.ndarray, out_hw) -> np.ndarray:
        kh, kw, sh, sw, dh, dw, _ = self._geometry
        oh, ow = out_hw
        if self._m > 1:
            xp = np.repeat(xp, self._m, axis=3)
        n, c = xp.shape[0], xp.shape[3]
        w = self._weights(ow)
        if sw == 1:
            acc = np.einsum("nyijl,ijl->nyl", self._rows_view(xp, oh, ow, kh, kw, sh, dh, dw), w)
        elif dw == 1:
            acc = None
            for p in range(min(sw, kw)):
                phase = np.ascontiguousarray(xp[:, :, p::sw, :])
                taps_j = len(range(p, kw, sw))
                part = np.einsum("nyijl,ijl->nyl", self._rows_view(phase, oh, ow, kh, taps_j, sh, dh, 1),
                                 w[:, p::sw])
                acc = part if acc is None else np.add(acc, part, out=acc)
        else:
            acc = np.einsum("nhwijc,ijc->nhwc", windows(xp, oh, ow, kh, kw, sh, sw, dh, dw), self._w)
        return acc.reshape(n, oh, ow, c)

    @staticmethod
    def _rows_view(xp, oh, ow, kh, kw, sh, dh, dw):
        """(N, OH, KH, KW, OW*C) view: [n, y, i, j, l] = xp[n, y*sh + i*dh] flat at j*dw*C + l."""
        n, _, _, c = xp.shape
        s0, s1, s2, s3 = xp.strides
        return as_strided(xp, (n, oh, kh, kw, ow * c), (s0, s1 * sh, s1 * dh, s2 * dw, s3), writeable=False)


@register("DEPTHWISE_CONV_2D")
def build_depthwise(ctx):
    o = ctx.options
    w = ctx.const(1)
    if w is None:
        raise ctx.unsupported("weights computed at run time")
    if w.ndim != 4 or w.shape[0] != 1:
        raise ctx.unsupported(f"weights of shape {w.shape} (expected 1 x KH x KW x C*M)")
    _, kh, kw, n_out = w.shape
    x_shape = ctx.inputs[0].shape
    if len(x_shape) != 4:
        raise ctx.unsupported("only 4-D NHWC input")
    cin = x_shape[3]
    if cin == 0 or n_out % cin:
        raise ctx.unsupported(f"{n_out} output channels for {cin} input channels")
    m = n_out // cin
    geometry = (kh, kw, o["stride_h"], o["stride_w"], o["dilation_h_factor"], o["dilation_w_factor"], conv_padding(o))
    act = ctx.activation()
    bias = ctx.const_bias()
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        if ctx.inputs[1].dtype == "int8":
            return _hybrid(ctx, w, bias, m, geometry, act)
        if ctx.inputs[1].dtype != "float32":
            raise ctx.unsupported(f"float32 input with {ctx.inputs[1].dtype} weights")
        taps = Taps(w[0], m, geometry, np.float32)
        add_bias = None if bias is None else ChannelBias(bias.astype(np.float32))
        pad = PaddedInput(geometry, 0.0, np.float32)

        def run_float(ins):
            y = taps(pad(ins[0]), pad.out_hw)
            if add_bias is not None:
                y = add_bias(y)
            return [quant.float_activation(y, act)]

        return run_float
    if ctx.inputs[1].dtype != "int8" or (bias is not None and bias.dtype != np.int32):
        raise ctx.unsupported(f"int8 input with {ctx.inputs[1].dtype} weights / non-int32 bias")
    mult, shift = per_channel_requant(ctx, ctx.inputs[1], n_out)
    _, x_zp = ctx.qparams(ctx.inputs[0])
    y_scale, y_zp = ctx.qparams(ctx.outputs[0])
    lo, hi = quant.activation_range(act, y_scale, y_zp, np.int8)
    per_channel = w[0].reshape(kh * kw, n_out).T  # (C*M, KH*KW): one row per output channel
    x_abs = 128  # raw int8 values and the x_zp padding
    gdt = weights_gemm_dtype(per_channel, x_abs)
    taps = Taps(w[0], m, geometry, gdt)
    wide = per_channel.astype(np.int64)
    folded = -x_zp * wide.sum(axis=1)
    if bias is not None:
        folded = folded + bias.astype(np.int64)
    # LiteRT's 3x3 kernels (depth a multiple of 8) round every channel the vector way; its general
    # kernel's optimized_ops::Quantize does so for channels [0, 8*floor(C/8)) and runs the scalar
    # tail on the rest. Both are this mask.
    vec = np.arange(n_out) < (n_out // 8) * 8
    acc_max = int(np.abs(wide).sum(axis=1).max(initial=0)) * x_abs
    stage = output_stage.fold(mult, shift, folded, y_zp, lo, hi, acc_max) if vec.all() else None
    pad = PaddedInput(geometry, x_zp, gdt)

    def run_int(ins):
        acc = taps(pad(ins[0]), pad.out_hw)
        if stage is not None:
            return [stage(acc)]
        y = quant.requantize_lanes(acc.astype(np.int64) + folded, mult, shift, vec) + y_zp
        return [np.clip(y, lo, hi).astype(np.int8)]

    return run_int


def _hybrid(ctx, w, bias, m, geometry, act):
    """depthwise_conv.cc EvalHybridPerChannel: asymmetric rows (one per batch element); the taps
    multiply q - offset (|.| <= 255) in the cheapest exact float type for the window's weights.
    Its output stage scales by the channel's weight scale first, then the row's (HybridOutput)."""
    n_out = w.shape[3]
    kh, kw = w.shape[1:3]
    scales = weight_scales(ctx, ctx.inputs[1], n_out)
    rows_of = RowQuantizer(ctx.memo, ctx.op.inputs[0], True)
    gdt = weights_gemm_dtype(w[0].reshape(kh * kw, n_out).T, 255)
    taps = Taps(w[0], m, geometry, gdt)
    pad = PaddedInput(geometry, 0, gdt)
    stage = HybridOutput(scales, bias, act, channel_first=True)

    def run(ins):
        x = ins[0]
        q, sf, _ = rows_of(x, x[0].size)
        acc = taps(pad(q.reshape(x.shape)), pad.out_hw)
        return [stage(acc.reshape(x.shape[0], -1, n_out), sf).reshape(acc.shape)]

    return run

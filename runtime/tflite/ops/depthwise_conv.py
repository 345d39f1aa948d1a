"""DEPTHWISE_CONV_2D as KH*KW shifted multiply-adds over the whole feature map (depthwise_conv.cc).

Output channel c*M + m reads input channel c (M = depth_multiplier). The input is copied once into a
padded buffer reused across invokes (common.PaddedInput); each tap multiplies a strided view of it.
int8 accumulates x * w in float32 over the raw int8 values, padded with x_zp, and folds
-x_zp * sum(w) into the bias (as conv.py): exact, since every partial sum is an integer of magnitude
<= 128 * sum |w| over the window (< 2^24 for any 3x3 or 5x5 window; else float64, by
weights_gemm_dtype). The bias is added and each channel requantized with CONV_2D's multipliers and
the rounding of LiteRT's depthwise output stage (see run_int).
"""
from __future__ import annotations

import numpy as np

from .. import quant
from . import output_stage
from .common import ChannelBias, PaddedInput, weights_gemm_dtype, windows
from .conv import per_channel_requant
from .hybrid import HybridOutput, RowQuantizer, weight_scales
from .registry import register


EINSUM_CHANNELS = 32


class Taps:
    """sum over the window of xp * w for a padded NHWC xp and weights w (KH, KW, C*M), in `dtype`.

    NumPy runs a broadcast multiply as inner loops over the last axis only, so a (N, OH, OW, C) view
    times a (C,) weight row costs one loop per pixel: slow for MobileNet's 8..48 channels. Each
    tap instead multiplies an (N, OH, OW*C) view by its weights tiled OW times (cached per OW),
    which needs the view's OW and C axes to merge: true at column stride 1; larger column strides
    first split xp into stride phases (columns p, p+s, ...), one contiguous copy each.
    With many channels (>= EINSUM_CHANNELS) one einsum over the (N, OH, OW, KH, KW, C) window view
    is faster (2-3x on MobileNet's 6x6x192 layers, where 17 calls' overhead dominates), and as
    exact for integer values: every partial sum still lies within the window's bound.
    """

    def __init__(self, w: np.ndarray, mult_channels: int, geometry, dtype):
        self._w = w.astype(dtype)
        self._m = mult_channels
        self._geometry = geometry
        self._dtype = dtype
        self._tiled = {}

    def __call__(self, xp: np.ndarray, out_hw) -> np.ndarray:
        kh, kw, sh, sw, dh, dw, _ = self._geometry
        oh, ow = out_hw
        if self._m > 1:
            xp = np.repeat(xp, self._m, axis=3)
        n, c = xp.shape[0], xp.shape[3]
        if c >= EINSUM_CHANNELS:
            return np.einsum("nhwijc,ijc->nhwc", windows(xp, oh, ow, kh, kw, sh, sw, dh, dw), self._w)
        if ow not in self._tiled:
            self._tiled[ow] = np.ascontiguousarray(np.tile(self._w, (1, 1, ow)))
        w = self._tiled[ow]
        phases = [xp] if sw == 1 else [np.ascontiguousarray(xp[:, :, p::sw, :]) for p in range(sw)]
        acc = np.empty((n, oh, ow * c), self._dtype)
        tmp = np.empty_like(acc)
        for i in range(kh):
            for j in range(kw):
                y0, col = i * dh, j * dw
                view = phases[col % sw][:, y0:y0 + (oh - 1) * sh + 1:sh, col // sw:col // sw + ow, :]
                view = view.reshape(n, oh, ow * c)
                if i == j == 0:
                    np.multiply(view, w[0, 0], out=acc)
                else:
                    np.multiply(view, w[i, j], out=tmp)
                    acc += tmp
        return acc.reshape(n, oh, ow, c)


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
    geometry = (kh, kw, o["stride_h"], o["stride_w"], o["dilation_h_factor"], o["dilation_w_factor"], o["padding"])
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

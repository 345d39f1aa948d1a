"""DEPTHWISE_CONV_2D as KH*KW shifted multiply-adds over the whole feature map (depthwise_conv.cc).

Output channel c*M + m reads input channel c (M = depth_multiplier). int8 accumulates (x - x_zp) * w in
int32 (exact: |products| < 2^15, and the window is small), adds the bias and requantizes per channel
with CONV_2D's multipliers and the rounding of LiteRT's depthwise output stage (see run_int).
"""
from __future__ import annotations

import numpy as np

from .. import quant
from .common import out_size_and_pad, pad_hw
from .conv import per_channel_requant
from .hybrid import asymmetric_quantize_rows, weight_scales
from .registry import register


def depthwise_acc(x, w, mult_channels: int, geometry, acc_dtype):
    """sum over the window of x * w, with x (N,H,W,C) and w (KH,KW,C*M), in acc_dtype."""
    kh, kw, sh, sw, dh, dw, padding = geometry
    n, h, wd, c = x.shape
    oh, pt, pb = out_size_and_pad(padding, h, kh, sh, dh)
    ow, pl, pr = out_size_and_pad(padding, wd, kw, sw, dw)
    xp = pad_hw(x.astype(acc_dtype, copy=False), (pt, pb), (pl, pr), 0)
    if mult_channels > 1:
        xp = np.repeat(xp, mult_channels, axis=3)
    acc = np.zeros((n, oh, ow, c * mult_channels), acc_dtype)
    tmp = np.empty_like(acc)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            np.multiply(xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :], w[i, j], out=tmp)
            acc += tmp
    return acc


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
    bias = ctx.const(2)
    if ctx.has_input(2) and bias is None:
        raise ctx.unsupported("bias computed at run time")
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        if ctx.inputs[1].dtype == "int8":
            return _hybrid(ctx, w, bias, m, geometry, act)
        if ctx.inputs[1].dtype != "float32":
            raise ctx.unsupported(f"float32 input with {ctx.inputs[1].dtype} weights")
        wf = w[0].astype(np.float32)
        b = None if bias is None else bias.astype(np.float32)

        def run_float(ins):
            y = depthwise_acc(ins[0], wf, m, geometry, np.float32)
            if b is not None:
                y += b
            return [quant.float_activation(y, act)]

        return run_float
    if ctx.inputs[1].dtype != "int8" or (bias is not None and bias.dtype != np.int32):
        raise ctx.unsupported(f"int8 input with {ctx.inputs[1].dtype} weights / non-int32 bias")
    mult, shift = per_channel_requant(ctx, ctx.inputs[1], n_out)
    _, x_zp = ctx.qparams(ctx.inputs[0])
    y_scale, y_zp = ctx.qparams(ctx.outputs[0])
    lo, hi = quant.activation_range(act, y_scale, y_zp, np.int8)
    wi = w[0].astype(np.int32)
    b = None if bias is None else bias.astype(np.int64)
    # LiteRT's 3x3 kernels (depth a multiple of 8) round every channel the vector way; its general
    # kernel's optimized_ops::Quantize does so for channels [0, 8*floor(C/8)) and runs the scalar
    # tail on the rest. Both are this mask.
    vec = np.arange(n_out) < (n_out // 8) * 8

    def run_int(ins):
        acc = depthwise_acc(ins[0].astype(np.int32) - x_zp, wi, m, geometry, np.int32).astype(np.int64)
        if b is not None:
            acc += b
        y = quant.requantize_lanes(acc, mult, shift, vec) + y_zp
        return [np.clip(y, lo, hi).astype(np.int8)]

    return run_int


def _hybrid(ctx, w, bias, m, geometry, act):
    """depthwise_conv.cc EvalHybridPerChannel: asymmetric rows (one per batch element)."""
    n_out = w.shape[3]
    scales = weight_scales(ctx, ctx.inputs[1], n_out)
    wi = w[0].astype(np.int64)
    b = None if bias is None else bias.astype(np.float64)

    def run(ins):
        x = ins[0]
        q, sf, offset = asymmetric_quantize_rows(x.reshape(len(x), -1).astype(np.float32))
        xq = (q - offset[:, None]).reshape(x.shape)
        acc = depthwise_acc(xq, wi, m, geometry, np.int64).astype(np.float64)
        scale = (sf[:, None] * scales[None, :]).astype(np.float32).astype(np.float64)
        y = acc * scale[:, None, None, :]
        if b is not None:
            y = y + b
        return [quant.float_activation(y.astype(np.float32), act)]

    return run

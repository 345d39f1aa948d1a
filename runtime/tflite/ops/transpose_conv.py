"""TRANSPOSE_CONV (transpose_conv.cc): a GEMM of the input with the weights, scattered into the output
(col2im), as optimized_ops::TransposeConvV2 does.

Inputs: output_shape (int32 [4]), weights (O, KH, KW, I), input NHWC, optional bias. Padding is the
padding of the forward convolution from the output to the input. int8 accumulates in exact integers,
adds the bias, then requantizes per channel with the output stage of optimized_ops::Quantize: the
8-channel vector loop for channels [0, 8*floor(O/8)), the scalar tail for the rest.
"""
from __future__ import annotations

import numpy as np

from .. import quant
from .common import gemm_dtype, out_size_and_pad
from .conv import per_channel_requant
from .registry import register


def col2im(cols, out_hw, k_hw, strides, pads):
    """cols (N, H, W, KH, KW, O) -> (N, OH, OW, O): output (i*s + kh - pad) += cols[i, kh]."""
    n, h, w, kh, kw, o = cols.shape
    oh, ow = out_hw
    sh, sw = strides
    pt, pl = pads
    full = np.zeros((n, (h - 1) * sh + kh, (w - 1) * sw + kw, o), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + (h - 1) * sh + 1:sh, j:j + (w - 1) * sw + 1:sw] += cols[:, :, :, i, j]
    return full[:, pt:pt + oh, pl:pl + ow]


def _pads(out_shape, k_hw, strides, padding, in_hw):
    _, pt, _ = out_size_and_pad(padding, out_shape[1], k_hw[0], strides[0])
    _, pl, _ = out_size_and_pad(padding, out_shape[2], k_hw[1], strides[1])
    return pt, pl


@register("TRANSPOSE_CONV")
def build_transpose_conv(ctx):
    o = ctx.options
    w = ctx.const(1)
    if w is None:
        raise ctx.unsupported("weights computed at run time")
    n_out, kh, kw, cin = w.shape
    strides = (o["stride_h"], o["stride_w"])
    padding = o["padding"]
    act = ctx.activation()
    bias = ctx.const_bias(3)
    dt = ctx.dtype(2)
    if dt not in ("float32", "int8") or ctx.out_dtype(0) != dt:
        raise ctx.unsupported(f"input dtype {dt} with output {ctx.out_dtype(0)}")
    if dt == "float32":
        if ctx.inputs[1].dtype != "float32":
            raise ctx.unsupported(f"float32 input with {ctx.inputs[1].dtype} weights")
        w2 = np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(cin, -1).astype(np.float32))
        b = None if bias is None else bias.astype(np.float32)

        def run_float(ins):
            out_shape = [int(v) for v in ins[0].reshape(-1)]
            ctx.check_output_size(out_shape)
            x = ins[2]
            cols = (x.reshape(-1, cin) @ w2).reshape(x.shape[:3] + (kh, kw, n_out))
            y = col2im(cols, out_shape[1:3], (kh, kw), strides, _pads(out_shape, (kh, kw), strides, padding, x.shape[1:3]))
            if b is not None:
                y = y + b
            return [quant.float_activation(y.astype(np.float32), act)]

        return run_float
    if ctx.inputs[1].dtype != "int8":
        raise ctx.unsupported(f"int8 input with {ctx.inputs[1].dtype} weights")
    saved = ctx.inputs[0]
    ctx.inputs[0] = ctx.inputs[2]  # per_channel_requant reads the data input's scale from slot 0
    try:
        mult, shift = per_channel_requant(ctx, ctx.inputs[1], n_out)
        _, x_zp = ctx.qparams(ctx.inputs[2])
    finally:
        ctx.inputs[0] = saved
    y_scale, y_zp = ctx.qparams(ctx.outputs[0])
    lo, hi = quant.activation_range(act, y_scale, y_zp, np.int8)
    gdt = gemm_dtype(cin, 255, int(np.abs(w.astype(np.int32)).max(initial=0)))
    w2 = np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(cin, -1).astype(gdt))
    b = None if bias is None else bias.astype(np.int64)
    vec = np.arange(n_out) < (n_out // 8) * 8

    def run_int(ins):
        out_shape = [int(v) for v in ins[0].reshape(-1)]
        ctx.check_output_size(out_shape)
        x = ins[2]
        cols = ((x.reshape(-1, cin).astype(gdt) - gdt(x_zp)) @ w2).astype(np.int64)
        cols = cols.reshape(x.shape[:3] + (kh, kw, n_out))
        acc = col2im(cols, out_shape[1:3], (kh, kw), strides, _pads(out_shape, (kh, kw), strides, padding, x.shape[1:3]))
        if b is not None:
            acc = acc + b
        y = quant.requantize_lanes(acc, mult, shift, vec) + y_zp
        return [np.clip(y, lo, hi).astype(np.int8)]

    return run_int

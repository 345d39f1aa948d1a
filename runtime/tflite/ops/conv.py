"""CONV_2D: im2col through a strided view, then one BLAS matmul (tflite/kernels/conv.cc).

int8: acc = sum((x - x_zp) * w) + bias (int32), requantized per output channel with
M = x_scale * w_scale[c] / y_scale (PopulateConvolutionQuantizationParams), then clamped to the fused
activation, with ruy's rounding (LiteRT's x86 build runs its int8 GEMMs on ruy). The matmul runs in
float32/float64, exact by `weights_gemm_dtype`'s bound. Non-grouped int8 convolutions fold the input
zero point into the bias, sum((x - x_zp) * w) = sum(x * w) - x_zp * sum(w) (padding with x_zp, not 0),
so the GEMM reads the raw int8 values, and run the folded output stage (output_stage.py). Weights
with zeros may run a sparse plan (runtime/sparse) on the im2col rows; the accumulators stay exact
integers either way.
"""
from __future__ import annotations

import numpy as np

from .. import quant
from . import output_stage
from .common import (ChannelBias, PaddedInput, axis_padding, conv_padding, out_size_and_pad, pad_hw,
                     weights_gemm_dtype, windows)
from .hybrid import HybridOutput, RowQuantizer, is_per_channel, weight_scales
from .registry import register


def per_channel_requant(ctx, w_tensor, n_out: int):
    """(multiplier, shift) per output channel for an int8 conv/FC/depthwise output."""
    x_scale, _ = ctx.qparams(ctx.inputs[0])
    y_scale, _ = ctx.qparams(ctx.outputs[0])
    wq = w_tensor.quantization
    if wq is None or not wq.scale:
        raise ctx.unsupported(f"weights {w_tensor.name!r} are {w_tensor.dtype} without quantization parameters")
    w_scales = np.broadcast_to(np.asarray(wq.scale, np.float64), (n_out,)) if len(wq.scale) in (1, n_out) else None
    if w_scales is None:
        raise ctx.unsupported(f"weights {w_tensor.name!r} have {len(wq.scale)} scales for {n_out} channels")
    if any(z != 0 for z in wq.zero_point):
        raise ctx.unsupported(f"weights {w_tensor.name!r} have a nonzero zero point")
    return quant.quantize_multipliers(float(np.float32(x_scale)) * w_scales / float(np.float32(y_scale)))


def requantize_output(acc, mult, shift, y_zp, lo, hi, dtype, ruy: bool = True):
    """ruy=True: the output stage of LiteRT's GEMM-based kernels (see quant.multiply_by_quantized_multiplier_ruy)."""
    fn = quant.multiply_by_quantized_multiplier_ruy if ruy else quant.multiply_by_quantized_multiplier
    y = fn(acc, mult, shift) + y_zp
    return np.clip(y, lo, hi).astype(dtype)


def conv_int(x, w2s, bias, x_zp, gemm_dt, geometry, mult, shift, y_zp, lo, hi, out_dtype, ruy=True):
    """Pure int8 conv: x NHWC int8, w2s one (KH*KW*C/groups, O/groups) matrix per group in gemm_dt,
    bias int64 (O,) or None."""
    xs = x.astype(gemm_dt) - gemm_dt(x_zp)
    acc = np.concatenate([(_im2col(xg, geometry, 0) @ w2).astype(np.int64)
                          for xg, w2 in zip(_groups(xs, len(w2s)), w2s)], axis=-1)
    if bias is not None:
        acc += bias
    return requantize_output(acc, mult, shift, y_zp, lo, hi, out_dtype, ruy)


def conv_float(x, w2s, bias, geometry, act):
    y = np.concatenate([_im2col(xg, geometry, 0) @ w2 for xg, w2 in zip(_groups(x, len(w2s)), w2s)], axis=-1)
    if bias is not None:
        y = y + bias
    return quant.float_activation(y.astype(np.float32), act)


def _groups(x, groups):
    if groups == 1:
        return [x]
    c = x.shape[-1] // groups
    return [x[..., g * c:(g + 1) * c] for g in range(groups)]


def _weight_matrices(w, groups, dtype):
    """OHWI weights -> per group a (KH*KW*I, O/groups) matrix."""
    n_out = w.shape[0]
    per = n_out // groups
    return [np.ascontiguousarray(w[g * per:(g + 1) * per].reshape(per, -1).T.astype(dtype)) for g in range(groups)]


def _im2col(x, geometry, pad_value):
    kh, kw, sh, sw, dh, dw, padding = geometry
    n, h, w, c = x.shape
    if kh == kw == 1:
        return x[:, ::sh, ::sw, :]  # a 1x1 kernel needs no patches (and never pads)
    oh, pt, pb = out_size_and_pad(axis_padding(padding, 0), h, kh, sh, dh)
    ow, pl, pr = out_size_and_pad(axis_padding(padding, 1), w, kw, sw, dw)
    xp = pad_hw(x, (pt, pb), (pl, pr), pad_value)
    return windows(xp, oh, ow, kh, kw, sh, sw, dh, dw).reshape(n, oh, ow, kh * kw * c)


@register("CONV_2D")
def build_conv2d(ctx):
    o = ctx.options
    w = ctx.const(1)
    if w is None:
        raise ctx.unsupported("weights computed at run time")
    if w.ndim != 4 or ctx.inputs[0].shape and len(ctx.inputs[0].shape) != 4:
        raise ctx.unsupported("only 4-D NHWC input and OHWI weights")
    n_out, kh, kw, cin = w.shape
    x_shape = ctx.inputs[0].shape
    groups = x_shape[3] // cin if x_shape and cin else 1
    if x_shape and (cin == 0 or x_shape[3] % cin or n_out % groups):
        raise ctx.unsupported(f"input with {x_shape[3]} channels for weights {w.shape}")
    geometry = (kh, kw, o["stride_h"], o["stride_w"], o["dilation_h_factor"], o["dilation_w_factor"], conv_padding(o))
    act = ctx.activation()
    bias = ctx.const_bias()
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        if ctx.inputs[1].dtype == "int8":
            if groups != 1:
                raise ctx.unsupported("grouped convolution with dynamic-range (hybrid) weights")
            return _hybrid(ctx, w, bias, geometry, act)
        if ctx.inputs[1].dtype != "float32":
            raise ctx.unsupported(f"float32 input with {ctx.inputs[1].dtype} weights")
        w2s = _weight_matrices(w, groups, np.float32)
        b = None if bias is None else bias.astype(np.float32)
        if groups == 1:
            plan = ctx.matmul_plan(w.reshape(n_out, -1).astype(np.float32), exact_int=False,
                                   rows=_static_rows(ctx))
            return _dense_float(w2s[0], plan, b, geometry, act)
        return lambda ins: [conv_float(ins[0], w2s, b, geometry, act)]
    if ctx.inputs[1].dtype != "int8" or (bias is not None and bias.dtype != np.int32):
        raise ctx.unsupported(f"int8 input with {ctx.inputs[1].dtype} weights / non-int32 bias")
    mult, shift = per_channel_requant(ctx, ctx.inputs[1], n_out)
    _, x_zp = ctx.qparams(ctx.inputs[0])
    y_scale, y_zp = ctx.qparams(ctx.outputs[0])
    lo, hi = quant.activation_range(act, y_scale, y_zp, np.int8)
    b = None if bias is None else bias.astype(np.int64)
    if groups == 1:
        return _dense_int(ctx, w, b, x_zp, geometry, mult, shift, y_zp, lo, hi)
    per = n_out // groups
    gdt = max((weights_gemm_dtype(w[g * per:(g + 1) * per].reshape(per, -1), 255) for g in range(groups)),
              key=lambda t: np.dtype(t).itemsize)
    w2s = _weight_matrices(w, groups, gdt)
    # conv.cc runs grouped convolutions on the reference kernel (gemmlowp rounding)
    return lambda ins: [conv_int(ins[0], w2s, b, x_zp, gdt, geometry, mult, shift, y_zp, lo, hi, np.int8, False)]


def _static_rows(ctx) -> int:
    """N*OH*OW from the output's static shape: the number of im2col rows a plan is timed at."""
    shape = ctx.outputs[0].shape
    return int(np.prod(shape[:-1])) if len(shape) == 4 and all(d > 0 for d in shape) else 1


def _rows(x, geometry, pad: PaddedInput, dtype):
    """The (N*OH*OW, KH*KW*C) im2col matrix of x in `dtype` (a 1x1 kernel reads x itself) and (OH, OW)."""
    kh, kw, sh, sw = geometry[:4]
    if kh == kw == 1:  # no patches, and never padding (out_size_and_pad gives ceil(size / stride))
        xs = x[:, ::sh, ::sw, :] if sh > 1 or sw > 1 else x
        return np.ascontiguousarray(xs, dtype=dtype).reshape(-1, x.shape[3]), xs.shape[1:3]
    return pad.rows(x), pad.out_hw


def _dense_float(wt, plan, b, geometry, act):
    pad = PaddedInput(geometry, 0.0, np.float32)
    add_bias = None if b is None else ChannelBias(b)

    def run(ins):
        x = ins[0]
        rows, (oh, ow) = _rows(x, geometry, pad, np.float32)
        y = plan(rows) if plan is not None else rows @ wt
        if add_bias is not None:
            y = add_bias(y)
        return [quant.float_activation(y, act).reshape(x.shape[0], oh, ow, -1)]

    return run


def _dense_int(ctx, w, b, x_zp, geometry, mult, shift, y_zp, lo, hi):
    """Non-grouped int8 CONV_2D on ruy: GEMM of the raw int8 im2col rows, the input zero point
    folded into the bias (module docstring), then the folded output stage."""
    n_out = w.shape[0]
    w2 = w.reshape(n_out, -1)
    x_abs = 128  # raw int8 values and the x_zp padding
    gdt = weights_gemm_dtype(w2, x_abs)
    wt = np.ascontiguousarray(w2.T.astype(gdt))
    folded = -x_zp * w2.astype(np.int64).sum(axis=1)
    if b is not None:
        folded = folded + b
    plan = ctx.matmul_plan(w2, exact_int=True, x_abs_max=x_abs, rows=_static_rows(ctx))
    acc_max = int(np.abs(w2.astype(np.int64)).sum(axis=1).max(initial=0)) * x_abs
    gemm = None
    if plan is None and output_stage.gemm_is_small(_static_rows(ctx), w2.shape[1], n_out):
        gemm = output_stage.fold_into_gemm(w2.T, mult, shift, folded, y_zp, lo, hi, acc_max)
    if gemm is not None:
        pad64 = PaddedInput(geometry, x_zp, np.float64)
        w_scaled, finish = gemm.w, gemm.finish

        def run_small(ins):
            x = ins[0]
            rows, (oh, ow) = _rows(x, geometry, pad64, np.float64)
            return [finish(rows @ w_scaled).reshape(x.shape[0], oh, ow, n_out)]

        return run_small
    stage = output_stage.fold(mult, shift, folded, y_zp, lo, hi, acc_max)
    pad = PaddedInput(geometry, x_zp, gdt)

    def run(ins):
        x = ins[0]
        rows, (oh, ow) = _rows(x, geometry, pad, gdt)
        acc = plan(rows) if plan is not None else rows @ wt
        if stage is not None:
            y = stage(acc)
        else:
            y = requantize_output(acc.astype(np.int64) + folded, mult, shift, y_zp, lo, hi, np.int8)
        return [y.reshape(x.shape[0], oh, ow, n_out)]

    return run


def _hybrid(ctx, w, bias, geometry, act):
    """conv.cc EvalHybridPerChannel (scales differ: asymmetric rows) or EvalHybrid (symmetric rows);
    a row is one batch element's whole input image. out = acc * row_scale * weight_scale[c] + bias.
    The GEMM reads the quantized image (q - offset, |.| <= 255) through the padded buffer and
    runs in the cheapest exact float type (common.weights_gemm_dtype). A 1x1 kernel (no padding)
    whose sums could pass 2^24 reads the raw q (|q| <= 128) in float32 instead and subtracts
    offset * row_sum(W) in float64, as LiteRT does."""
    n_out = w.shape[0]
    scales = weight_scales(ctx, ctx.inputs[1], n_out)
    rows_of = RowQuantizer(ctx.memo, ctx.op.inputs[0], is_per_channel(scales))
    w2 = w.reshape(n_out, -1)
    gdt = weights_gemm_dtype(w2, 255)
    raw = gdt is not np.float32 and geometry[:2] == (1, 1) and weights_gemm_dtype(w2, 128) is np.float32
    wt = np.ascontiguousarray(w2.T.astype(np.float32 if raw else gdt))
    row_sums = w2.astype(np.float64).sum(axis=1)
    stage = HybridOutput(scales, bias, act)
    pad = PaddedInput(geometry, 0, gdt)

    def run(ins):
        x = ins[0]
        n = x.shape[0]
        q, sf, off = rows_of(x, x[0].size)
        if raw:
            rows, (oh, ow) = _rows((q + off).reshape(x.shape), geometry, pad, np.float32)
            acc = (rows @ wt).reshape(n, -1, n_out)
            acc = np.subtract(acc, (off.astype(np.float64) * row_sums)[:, None, :], dtype=np.float64)
        else:
            rows, (oh, ow) = _rows(q.reshape(x.shape), geometry, pad, gdt)
            acc = (rows @ wt).reshape(n, -1, n_out)
        return [stage(acc, sf).reshape(n, oh, ow, n_out)]

    return run

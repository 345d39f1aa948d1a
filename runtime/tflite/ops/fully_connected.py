"""FULLY_CONNECTED: y = x W^T + b over the last axis (fully_connected.cc), one BLAS matmul.

int8 requantizes per output channel (per-tensor weights broadcast) like CONV_2D, with the input zero
point folded into the bias so that the GEMM reads the raw int8 values (see conv.py). Weights with
zeros may run a sparse plan (runtime/sparse) instead of the dense GEMM: same exact accumulators.
"""
from __future__ import annotations

import numpy as np

from .. import quant
from . import output_stage
from .common import weights_gemm_dtype
from .conv import per_channel_requant, requantize_output
from .hybrid import HybridOutput, RowQuantizer, weight_scales
from .registry import register


def _out_shape(x_shape, n_units, keep_num_dims):
    if keep_num_dims:
        return tuple(x_shape[:-1]) + (n_units,)
    return (-1, n_units)


def _static_rows(ctx, k: int) -> int:
    """Rows of x per invoke from the input's static shape (the batch a plan is timed at)."""
    shape = ctx.inputs[0].shape
    size = int(np.prod(shape)) if len(shape) and all(d > 0 for d in shape) else k
    return max(1, size // k) if k else 1


@register("FULLY_CONNECTED")
def build_fully_connected(ctx):
    o = ctx.options
    if o.get("weights_format", 0) != 0:
        raise ctx.unsupported("shuffled weights format")
    w = ctx.const(1)
    if w is None:
        raise ctx.unsupported("weights computed at run time")
    if w.ndim != 2:
        raise ctx.unsupported(f"weights of rank {w.ndim}")
    n_units, k = w.shape
    keep = bool(o.get("keep_num_dims", False))
    act = ctx.activation()
    bias = ctx.const_bias()
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        if ctx.inputs[1].dtype == "int8":
            return _hybrid(ctx, w, bias, act, keep)
        if ctx.inputs[1].dtype != "float32":
            raise ctx.unsupported(f"float32 input with {ctx.inputs[1].dtype} weights")
        wt = np.ascontiguousarray(w.T.astype(np.float32))
        b = None if bias is None else bias.astype(np.float32)
        plan = ctx.matmul_plan(w.astype(np.float32), exact_int=False, rows=_static_rows(ctx, k))

        def run_float(ins):
            x = ins[0]
            y = plan(x.reshape(-1, k)) if plan is not None else x.reshape(-1, k) @ wt
            if b is not None:
                y += b
            return [quant.float_activation(y, act).reshape(_out_shape(x.shape, n_units, keep))]

        return run_float
    if ctx.inputs[1].dtype != "int8" or (bias is not None and bias.dtype != np.int32):
        raise ctx.unsupported(f"int8 input with {ctx.inputs[1].dtype} weights / {None if bias is None else bias.dtype} bias")
    mult, shift = per_channel_requant(ctx, ctx.inputs[1], n_units)
    _, x_zp = ctx.qparams(ctx.inputs[0])
    y_scale, y_zp = ctx.qparams(ctx.outputs[0])
    lo, hi = quant.activation_range(act, y_scale, y_zp, np.int8)
    x_abs = 128  # the GEMM reads raw int8 values; the zero point is folded into the bias
    gdt = weights_gemm_dtype(w, x_abs)
    wt = np.ascontiguousarray(w.T.astype(gdt))
    folded = -x_zp * w.astype(np.int64).sum(axis=1)
    if bias is not None:
        folded = folded + bias.astype(np.int64)
    plan = ctx.matmul_plan(w, exact_int=True, x_abs_max=x_abs, rows=_static_rows(ctx, k))
    sp = ctx.inputs[1].sparsity
    # 1x16 block-sparse weights run SparseMatrixBatchVectorMultiplyAccumulate1x16, whose output stage is
    # the scalar MultiplyByQuantizedMultiplier; dense weights go through ruy's GEMM.
    ruy = not (sp is not None and len(sp.dim_metadata) == 3 and sp.dim_metadata[2].dense_size == 16)
    acc_max = int(np.abs(w.astype(np.int64)).sum(axis=1).max(initial=0)) * x_abs
    rows_static = _static_rows(ctx, k)
    gemm = None
    if ruy and plan is None and output_stage.gemm_is_small(rows_static, k, n_units):
        gemm = output_stage.fold_into_gemm(w.T, mult, shift, folded, y_zp, lo, hi, acc_max)
    if gemm is not None:
        if not keep:
            return lambda ins: [gemm(ins[0].reshape(-1, k))]
        return lambda ins: [gemm(ins[0].reshape(-1, k)).reshape(ins[0].shape[:-1] + (n_units,))]
    stage = output_stage.fold(mult, shift, folded, y_zp, lo, hi, acc_max) if ruy else None

    def run_int(ins):
        x = ins[0]
        rows = x.reshape(-1, k).astype(gdt)
        acc = plan(rows) if plan is not None else rows @ wt
        if stage is not None:
            y = stage(acc)
        else:
            y = requantize_output(acc.astype(np.int64) + folded, mult, shift, y_zp, lo, hi, np.int8, ruy=ruy)
        return [y.reshape(_out_shape(x.shape, n_units, keep))]

    return run_int


def _hybrid(ctx, w, bias, act, keep):
    """EvalHybrid: rows quantized (asymmetric when asymmetric_quantize_inputs), integer dot products,
    out = bias + dot * row_scale * weight_scale. The rows of one input tensor are quantized once per
    run for all the ops that read it (hybrid.RowQuantizer); the dot products run in the cheapest
    float type that keeps them exact (common.weights_gemm_dtype): q - offset (|.| <= 255) when that is
    float32, else, like LiteRT, the raw q (|q| <= 128) in float32 and offset * row_sum(W) subtracted
    in float64."""
    n_units, k = w.shape
    scales = weight_scales(ctx, ctx.inputs[1], n_units)
    asym = bool(ctx.options.get("asymmetric_quantize_inputs", False))
    gdt = weights_gemm_dtype(w, 255)
    raw = gdt is not np.float32 and weights_gemm_dtype(w, 128) is np.float32
    wt = np.ascontiguousarray(w.T.astype(np.float32 if raw else gdt))
    row_sums = w.astype(np.float64).sum(axis=1)
    stage = HybridOutput(scales, bias, act)
    rows_of = RowQuantizer(ctx.memo, ctx.op.inputs[0], asym)

    def run(ins):
        x = ins[0]
        q, sf, off = rows_of(x, k)
        if raw:
            dot = np.subtract((q + off) @ wt, off.astype(np.float64) * row_sums, dtype=np.float64)
        else:
            dot = (q if gdt is np.float32 else q.astype(gdt)) @ wt
        return [stage(dot, sf).reshape(_out_shape(x.shape, n_units, keep))]

    return run

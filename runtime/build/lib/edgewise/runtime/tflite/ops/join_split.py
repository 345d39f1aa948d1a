"""CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V: data movement along one axis.

int8 CONCATENATION needs every input quantized like the output (concatenation.cc enforces the same).
"""
from __future__ import annotations

import numpy as np

from .. import quant
from .registry import register


@register("CONCATENATION")
def build_concatenation(ctx):
    axis = int(ctx.options.get("axis", 0))
    act = ctx.activation()
    dt = ctx.out_dtype(0)
    if any(t is None or t.dtype != dt for t in ctx.inputs):
        raise ctx.unsupported("inputs of different dtypes")
    if dt == "int8":
        so, zo = ctx.qparams(ctx.outputs[0])
        if any(ctx.qparams(t) != (so, zo) for t in ctx.inputs):
            raise ctx.unsupported("int8 inputs quantized differently from the output (LiteRT rejects this too)")
        lo, hi = quant.activation_range(act, so, zo, np.int8)
    elif act != "NONE" and dt != "float32":
        raise ctx.unsupported(f"fused {act} on {dt}")

    def run(ins):
        y = np.concatenate(ins, axis=axis % ins[0].ndim)
        if dt == "int8":
            return [np.clip(y, lo, hi).astype(np.int8)]
        if dt == "float32":
            return [quant.float_activation(y, act)]
        return [y]

    return run


@register("PACK")
def build_pack(ctx):
    axis = int(ctx.options.get("axis", 0))
    return lambda ins: [np.stack(ins, axis=axis if axis >= 0 else axis + ins[0].ndim + 1)]


@register("UNPACK")
def build_unpack(ctx):
    axis = int(ctx.options.get("axis", 0))

    def run(ins):
        x = ins[0]
        return [np.take(x, i, axis=axis) for i in range(x.shape[axis])]

    return run


@register("SPLIT")
def build_split(ctx):
    n = int(ctx.options.get("num_splits", len(ctx.outputs)))

    def run(ins):
        axis = int(np.asarray(ins[0]).reshape(-1)[0])
        return np.split(ins[1], n, axis=axis)

    return run


@register("SPLIT_V")
def build_split_v(ctx):
    def run(ins):
        x, sizes, axis = ins[0], [int(s) for s in ins[1]], int(np.asarray(ins[2]).reshape(-1)[0])
        axis %= x.ndim
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)

    return run

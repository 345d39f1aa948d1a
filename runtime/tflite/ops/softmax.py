"""SOFTMAX (activations.cc).

float32: exp(beta * (x - max)) / sum. int8 follows LiteRT's generic optimized kernel
(optimized_ops::Softmax with PopulateSoftmaxLookupTable): a float32 table
table[255 - d] = expf(-input_scale * beta * d), a float32 running sum in element order, then
round(e * (1 / (sum * output_scale))) + output_zero_point. expf is taken as exp in float64 rounded to
float32 (the correctly rounded value, which glibc's expf returns).
"""
from __future__ import annotations

import numpy as np

from .registry import register


def softmax_float(x, beta):
    z = (x.astype(np.float64) - x.max(axis=-1, keepdims=True)) * beta
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def softmax_int8(x, table, out_scale, out_zp):
    xi = x.astype(np.int32)
    diff = xi.max(axis=-1, keepdims=True) - xi  # in [0, 255]
    e = np.take(table, diff)
    total = np.cumsum(e, axis=-1, dtype=np.float32)[..., -1:]  # sequential float32 sum, as the C loop
    inv = np.float32(1.0) / (total * np.float32(out_scale))
    # e * inv >= 0, where rounding half away from zero is floor(v + 0.5)
    v = e * inv
    v += np.float32(0.5)
    q = np.floor(v, out=v).astype(np.int32)
    q += out_zp
    np.maximum(q, -128, out=q)
    np.minimum(q, 127, out=q)
    return q.astype(np.int8)


@register("SOFTMAX")
def build_softmax(ctx):
    beta = float(ctx.options.get("beta", 1.0))
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        return lambda ins: [softmax_float(ins[0], beta)]
    in_scale, _ = ctx.qparams(ctx.inputs[0])
    out_scale, out_zp = ctx.qparams(ctx.outputs[0])
    scale = np.float32(-np.float32(in_scale) * np.float32(beta))
    arg = (scale * np.arange(256, dtype=np.float32)).astype(np.float32)
    table = np.exp(arg.astype(np.float64)).astype(np.float32)
    return lambda ins: [softmax_int8(ins[0], table, out_scale, out_zp)]


@register("LOG_SOFTMAX")
def build_log_softmax(ctx):
    """float32 only: x - max - log(sum(exp(x - max))) over the last axis."""
    ctx.require_dtypes(("float32",))

    def run(ins):
        z = ins[0].astype(np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        return [(z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)]

    return run

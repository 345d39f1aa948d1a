"""SOFTMAX (activations.cc).

float32: exp(beta * (x - max)) / sum. int8 follows LiteRT's generic optimized kernel
(optimized_ops::Softmax with PopulateSoftmaxLookupTable): a float32 table
table[255 - d] = expf(-input_scale * beta * d), a float32 running sum in element order, then
round(e * (1 / (sum * output_scale))) + output_zero_point. expf is taken as exp in float64 rounded to
float32 (the correctly rounded value, which glibc's expf returns).

The rounding (TfLiteRound, half away from zero, of the float32 product v = e * inv >= 0) and the
zero point are done as u = v + (0.5 + zp + 128) in float64, clamped to 255, truncated to an integer
k and shifted back by 128 (a lookup of k - 128 in an int8 table). The float64 sum is exact: v is a
float32 below 2^51 (larger values clamp to 255 either way) and the constant a multiple of 1/2, so
no bit is lost (a float32 v + 0.5 would round, e.g. 0.49999997 + 0.5 to 1.0). u >= 0.5, as
zp >= -128, so the truncation is floor, and floor(v + 0.5 + zp + 128) - 128 = floor(v + 0.5) + zp:
the clamp to [-128, 127] is the one to [0, 255] before the shift. As e <= 1 (e = 1 at the maximum,
for beta > 0) and sum >= 1, v <= fl(1 / output_scale): when that bounds floor(u) below
CLAMP_TABLE_MAX, the clamp is folded into the table (entries past 255 hold 127).
"""
from __future__ import annotations

import numpy as np

from .registry import register

CLAMP_TABLE_MAX = 1 << 16


def softmax_float(x, beta):
    # fmax skips NaNs (a row holding one is all NaN either way) and reduces short rows faster
    z = x.astype(np.float64)
    z -= np.fmax.reduce(z, axis=-1, keepdims=True)
    if beta != 1.0:
        z *= beta
    np.exp(z, out=z)
    z /= np.add.reduce(z, axis=-1, keepdims=True)
    return z.astype(np.float32)


def softmax_int8(x, table, out_scale, out_zp):
    """table[d] = expf(-input_scale * beta * d) for d = max - x in [0, 255] (module docstring)."""
    return softmax_int8_kernel(wrapped_table(table), np.float32(out_scale), out_zp)(x)


def wrapped_table(table):
    """The table indexed by x - max in [-255, 0]: entry (-d) mod 256 holds table[d] (NumPy reads a
    negative index k at 256 + k)."""
    return np.ascontiguousarray(table[(-np.arange(256)) % 256])


def softmax_int8_kernel(wrapped, out_scale, out_zp):
    one, shift = np.float32(1.0), np.float64(0.5 + out_zp + 128)
    v_max = float(np.float32(1.0) / out_scale)
    bounded = np.isfinite(v_max) and wrapped[0] == 1 and (wrapped <= 1).all()  # (beta > 0)
    size = int(v_max + 0.5 + out_zp + 128) + 1 if bounded else CLAMP_TABLE_MAX
    clamp = size >= CLAMP_TABLE_MAX
    back = (np.minimum(np.arange(256 if clamp else max(size, 256)), 255) - 128).astype(np.int8)

    def run(x):
        d = np.subtract(x, np.maximum.reduce(x, axis=-1, keepdims=True), dtype=np.intp)
        e = wrapped[d]
        if e.size == e.shape[-1]:  # one row: the sum and its reciprocal as float32 scalars
            inv = one / (np.add.accumulate(e, axis=-1).reshape(-1)[-1] * out_scale)
        else:
            total = np.add.accumulate(e, axis=-1)[..., -1:]  # sequential float32 sum, as the C loop
            total *= out_scale
            inv = np.divide(one, total, out=total)
        v = np.multiply(e, inv, out=e)  # the float32 product
        u = np.add(v, shift, dtype=np.float64)
        if clamp:
            np.minimum(u, 255.0, out=u)
        return back[u.astype(np.intp)]

    return run


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
    run = softmax_int8_kernel(wrapped_table(table), np.float32(out_scale), out_zp)
    return lambda ins: [run(ins[0])]


@register("LOG_SOFTMAX")
def build_log_softmax(ctx):
    """float32 only: x - max - log(sum(exp(x - max))) over the last axis."""
    ctx.require_dtypes(("float32",))

    def run(ins):
        z = ins[0].astype(np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        return [(z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)]

    return run

"""Small float/integer ops that move or combine values without quantized arithmetic: TILE, BROADCAST_TO,
FILL, ZEROS_LIKE, RANGE, CAST, ARG_MAX/ARG_MIN, SELECT/SELECT_V2, comparisons and unary float math.

Quantized int8 inputs are accepted only where the op does not change the scale (TILE, BROADCAST_TO,
ARG_MAX/ARG_MIN, comparisons between identically quantized tensors).
"""
from __future__ import annotations

import math

import numpy as np

from .. import quant
from . import lut
from .registry import register


@register("TILE")
def build_tile(ctx):
    def run(ins):
        reps = [int(m) for m in ins[1].reshape(-1)]
        full = [1] * (len(reps) - ins[0].ndim) + list(ins[0].shape)
        ctx.check_output_size([a * b for a, b in zip(full, [1] * (len(full) - len(reps)) + reps)])
        return [np.tile(ins[0], reps)]

    return run


@register("BROADCAST_TO")
def build_broadcast_to(ctx):
    def run(ins):
        shape = [int(d) for d in ins[1].reshape(-1)]
        ctx.check_output_size(shape)
        return [np.ascontiguousarray(np.broadcast_to(ins[0], shape))]

    return run


@register("FILL")
def build_fill(ctx):
    def run(ins):
        shape = [int(d) for d in ins[0].reshape(-1)]
        ctx.check_output_size(shape)
        return [np.full(shape, ins[1].reshape(-1)[0])]

    return run


@register("ZEROS_LIKE")
def build_zeros_like(ctx):
    return lambda ins: [np.zeros_like(ins[0])]


@register("RANGE")
def build_range(ctx):
    out = ctx.out_dtype(0)

    def run(ins):
        start, limit, delta = (float(v.reshape(-1)[0]) for v in ins[:3])
        if delta == 0 or not all(np.isfinite([start, limit, delta])):
            raise ValueError(f"RANGE({start}, {limit}, {delta})")
        ctx.check_output_size([max(0, math.ceil((limit - start) / delta))])
        return [np.arange(ins[0].reshape(-1)[0], ins[1].reshape(-1)[0], ins[2].reshape(-1)[0]).astype(out)]

    return run


@register("CAST")
def build_cast(ctx):
    src, dst = ctx.dtype(0), ctx.out_dtype(0)
    if src not in ("float32", "int32", "int64", "bool", "int8", "uint8", "int16", "float16") or dst not in (
            "float32", "int32", "int64", "bool", "int8", "uint8", "int16", "float16"):
        raise ctx.unsupported(f"cast {src} -> {dst}")
    return lambda ins: [ins[0].astype(dst)]


def _arg(ctx, fn):
    out = ctx.out_dtype(0)
    return lambda ins: [fn(ins[0], axis=int(ins[1].reshape(-1)[0]) % ins[0].ndim).astype(out)]


@register("ARG_MAX")
def build_arg_max(ctx):
    return _arg(ctx, np.argmax)


@register("ARG_MIN")
def build_arg_min(ctx):
    return _arg(ctx, np.argmin)


@register("SELECT", "SELECT_V2")
def build_select(ctx):
    return lambda ins: [np.where(ins[0], ins[1], ins[2])]


def _compare(ctx, fn):
    if ctx.dtype(0) in ("int8", "uint8", "int16"):
        if ctx.qparams(ctx.inputs[0]) != ctx.qparams(ctx.inputs[1]):
            raise ctx.unsupported("quantized comparison of tensors with different quantization")
    return lambda ins: [fn(ins[0], ins[1])]


for _name, _fn in (("LESS", np.less), ("LESS_EQUAL", np.less_equal), ("GREATER", np.greater),
                   ("GREATER_EQUAL", np.greater_equal), ("EQUAL", np.equal), ("NOT_EQUAL", np.not_equal)):
    register(_name)(lambda ctx, _fn=_fn: _compare(ctx, _fn))

for _name, _fn in (("LOGICAL_AND", np.logical_and), ("LOGICAL_OR", np.logical_or)):
    register(_name)(lambda ctx, _fn=_fn: (lambda ins: [_fn(ins[0], ins[1])]))


@register("LOGICAL_NOT")
def build_logical_not(ctx):
    return lambda ins: [np.logical_not(ins[0])]


def _float_unary(ctx, fn, ints_ok=False):
    allowed = ("float32", "int32", "int64") if ints_ok else ("float32",)
    dt = ctx.require_dtypes(allowed)
    if dt == "float32":
        return lambda ins: [fn(ins[0].astype(np.float64)).astype(np.float32)]
    return lambda ins: [fn(ins[0]).astype(dt)]


_UNARY = {
    "LOG": (np.log, False), "SQRT": (np.sqrt, False), "SIN": (np.sin, False),
    "COS": (np.cos, False), "FLOOR": (np.floor, False), "CEIL": (np.ceil, False), "ROUND": (np.rint, False),
    "NEG": (np.negative, True), "SQUARE": (np.square, True), "SIGN": (np.sign, True),
}
for _name, (_fn, _ints) in _UNARY.items():
    register(_name)(lambda ctx, _fn=_fn, _ints=_ints: _float_unary(ctx, _fn, _ints))


@register("POW")
def build_pow(ctx):
    dt = ctx.require_dtypes(("float32", "int32"))
    return lambda ins: [np.power(ins[0].astype(np.float64), ins[1]).astype(dt)]


@register("FLOOR_DIV")
def build_floor_div(ctx):
    dt = ctx.require_dtypes(("float32", "int32"))
    return lambda ins: [np.floor_divide(ins[0], ins[1]).astype(dt)]


@register("FLOOR_MOD")
def build_floor_mod(ctx):
    dt = ctx.require_dtypes(("float32", "int32", "int64"))
    return lambda ins: [np.mod(ins[0], ins[1]).astype(dt)]



@register("ABS")
def build_abs(ctx):
    """int8: AbsEvalQuantized: |x - zp_in| (+ zp_out), rescaled by s_in/s_out (float32 division) with
    MultiplyByQuantizedMultiplier when the scales differ; a 256-entry table."""
    if ctx.dtype(0) != "int8":
        return _float_unary(ctx, np.abs, True)
    ctx.require_dtypes(("int8",))
    s_in, z_in = ctx.qparams(ctx.inputs[0])
    s_out, z_out = ctx.qparams(ctx.outputs[0])
    v = np.abs(lut.INT8_VALUES.astype(np.int64) - z_in)
    if np.float32(s_in) != np.float32(s_out):
        mult, shift = quant.quantize_multiplier(float(np.float32(s_in) / np.float32(s_out)))
        v = quant.multiply_by_quantized_multiplier(v, mult, shift)
    table = np.clip(v + z_out, -128, 127).astype(np.int8)
    run = lut.by_value(table)
    return lambda ins: [run(ins[0])]

"""Elementwise binary ops with broadcasting: ADD, SUB, MUL, SQUARED_DIFFERENCE, MINIMUM, MAXIMUM (DIV: div.py).

int8 ADD/SUB follow add.cc/sub.cc: both inputs are shifted left by 20 bits and rescaled to
2*max(s1, s2), summed, then rescaled to the output (three QuantizeMultiplier'd factors, the double
computations of Prepare kept). int8 MUL: out_zp + MBQM((x1 - z1) * (x2 - z2), s1*s2/s_out) with the
float32 product of Prepare. ADD and MUL reproduce which elements LiteRT's vector loops compute
(vector_paths); SUB runs LiteRT's scalar reference code. MINIMUM/MAXIMUM compare raw values (inputs and output share parameters).

As an int8 ADD/SUB/MUL output depends only on the pair of input values and on which loop computes
it, each is built at load into 256 x 256 tables, one per rounding (scalar code, elementwise vector
loop, scalar-broadcast vector loop), computed by the very arithmetic above (`pair_table`); invoke
then only looks up (x1, x2) in the table its vector mask selects.
"""
from __future__ import annotations

import numpy as np

from .. import quant
from . import vector_paths as vp
from .registry import register

F32 = np.float32
LEFT_SHIFT = 20


def _float(ctx, fn):
    act = ctx.activation() if "fused_activation_function" in ctx.options else "NONE"

    def run(ins):
        return [quant.float_activation(np.asarray(fn(ins[0], ins[1]), F32), act)]

    return run


def _check_int8(ctx):
    for t in ctx.inputs[:2] + ctx.outputs[:1]:
        if t.dtype != "int8":
            raise ctx.unsupported(f"mixed dtypes ({t.name!r} is {t.dtype})")
    return [ctx.qparams(t) for t in (ctx.inputs[0], ctx.inputs[1], ctx.outputs[0])]


def add_sub_int8(x1, x2, p, sign, lanes=None):
    """sign=+1: optimized_integer_ops::Add (vector loops, see vector_paths); sign=-1:
    reference_ops::Sub, which LiteRT runs for int8 SUB (scalar arithmetic everywhere).
    lanes: (kind, vector mask) to use instead of those of the shapes (to build lookup tables)."""
    (m1, sh1), (m2, sh2), (mo, sho), z1, z2, zo, lo, hi = p
    a1 = x1.astype(np.int64) - z1
    a2 = x2.astype(np.int64) - z2

    def scalar():
        t1 = quant.multiply_by_quantized_multiplier(a1 << LEFT_SHIFT, m1, sh1)
        t2 = quant.multiply_by_quantized_multiplier(a2 << LEFT_SHIFT, m2, sh2)
        return quant.multiply_by_quantized_multiplier(t1 + sign * t2, mo, sho)

    if sign < 0:
        y = scalar()
    else:
        kind, vec = lanes if lanes is not None else vp.broadcast_lanes(x1.shape, x2.shape, 16, 8)[:2]

        def vector():
            if kind == "elementwise":
                v1 = vp.vqrdmulh(vp.vshl(a1, LEFT_SHIFT + sh1), m1)
                v2 = vp.vqrdmulh(vp.vshl(a2, LEFT_SHIFT + sh2), m2)
            else:
                v1 = vp.vshl(vp.vqrdmulh(vp.vshl(a1, LEFT_SHIFT), m1), sh1)
                v2 = vp.vshl(vp.vqrdmulh(vp.vshl(a2, LEFT_SHIFT), m2), sh2)
            return quant.rounding_divide_by_pot(vp.vqrdmulh(v1 + v2, mo), -sho)

        y = vp.select(vec, vector, scalar)
    return np.clip(y + zo, lo, hi).astype(np.int8)


def _add_sub(ctx, sign):
    dt = ctx.require_dtypes(("float32", "int8", "int32"))
    if dt == "float32":
        return _float(ctx, (lambda a, b: a + b) if sign > 0 else (lambda a, b: a - b))
    if dt == "int32":
        act = ctx.activation()
        if act != "NONE":
            raise ctx.unsupported(f"int32 with fused {act}")
        return lambda ins: [(ins[0] + sign * ins[1]).astype(np.int32)]
    (s1, z1), (s2, z2), (so, zo) = _check_int8(ctx)
    twice_max = 2.0 * float(max(F32(s1), F32(s2)))
    m1 = quant.quantize_multiplier(float(F32(s1)) / twice_max)
    m2 = quant.quantize_multiplier(float(F32(s2)) / twice_max)
    mo = quant.quantize_multiplier(twice_max / float(F32((1 << LEFT_SHIFT) * F32(so))))
    lo, hi = quant.activation_range(ctx.activation(), so, zo, np.int8)
    p = (m1, m2, mo, z1, z2, zo, lo, hi)
    return _lookup_add_sub(p, sign)


def _lookup_add_sub(p, sign):
    return pair_table((lambda a, b, lanes: add_sub_int8(a, b, p, sign, lanes)),
                      ("elementwise", "scalar") if sign > 0 else (), (16, 8))


def pair_table(compute, vector_kinds, blocks):
    """An int8 binary kernel as table lookups (module docstring).

    compute(x1, x2, lanes) is the kernel's own arithmetic with lanes = (kind, vector mask) forced;
    it is run once on all 65536 pairs for the scalar code ("generic", no vector lane) and once per
    vector loop kind the op has. Table row u1, column u2 holds the result for the int8 values whose
    bytes are u1, u2. At invoke, vector_paths.broadcast_lanes(..., *blocks) picks per element.
    """
    values = np.arange(256).astype(np.uint8).view(np.int8)
    g1, g2 = np.meshgrid(values, values, indexing="ij")
    flat = {"generic": compute(g1, g2, ("generic", np.zeros(g1.shape, bool))).reshape(-1)}
    for kind in vector_kinds:
        flat[kind] = compute(g1, g2, (kind, np.ones(g1.shape, bool))).reshape(-1)
    lanes = {}

    def run(ins):
        x1, x2 = ins[0], ins[1]
        idx = x1.view(np.uint8).astype(np.uint16) << 8
        idx = idx | x2.view(np.uint8)
        if not vector_kinds:
            return [np.take(flat["generic"], idx)]
        key = (x1.shape, x2.shape)
        if key not in lanes:
            kind, vec, _ = vp.broadcast_lanes(x1.shape, x2.shape, *blocks)
            lanes[key] = (kind, vec, bool(vec.all()), bool(vec.any()))
        kind, vec, every_lane, any_lane = lanes[key]
        if not any_lane:
            return [np.take(flat["generic"], idx)]
        if every_lane:
            return [np.take(flat[kind], idx)]
        return [np.where(vec, np.take(flat[kind], idx), np.take(flat["generic"], idx))]

    return run


@register("ADD")
def build_add(ctx):
    return _add_sub(ctx, 1)


@register("SUB")
def build_sub(ctx):
    return _add_sub(ctx, -1)


@register("MUL")
def build_mul(ctx):
    dt = ctx.require_dtypes(("float32", "int8", "int32"))
    if dt == "float32":
        return _float(ctx, lambda a, b: a * b)
    if dt == "int32":
        return lambda ins: [(ins[0] * ins[1]).astype(np.int32)]
    (s1, z1), (s2, z2), (so, zo) = _check_int8(ctx)
    mult, shift = quant.quantize_multiplier(float(F32(F32(s1) * F32(s2)) / F32(so)))
    lo, hi = quant.activation_range(ctx.activation(), so, zo, np.int8)
    p = (z1, z2, mult, shift, zo, lo, hi)
    return pair_table((lambda a, b, lanes: mul_int8(a, b, p, lanes)), ("elementwise", "scalar"), (16, 16))


def mul_int8(x1, x2, p, lanes=None):
    """optimized_integer_ops::Mul: out_zp + MBQM((x1 - z1) * (x2 - z2)), vector lanes rounding as
    vqrdmulh + rounding shift, the scalar tail as gemmlowp (vector_paths). lanes as add_sub_int8."""
    z1, z2, mult, shift, zo, lo, hi = p
    prod = (x1.astype(np.int64) - z1) * (x2.astype(np.int64) - z2)
    vec = lanes[1] if lanes is not None else vp.broadcast_lanes(x1.shape, x2.shape, 16, 16)[1]
    y = vp.select(
        vec,
        lambda: quant.rounding_divide_by_pot(vp.vqrdmulh(vp.vshl(prod, max(shift, 0)), mult), max(-shift, 0)),
        lambda: quant.multiply_by_quantized_multiplier(prod, mult, shift),
    )
    return np.clip(y + zo, lo, hi).astype(np.int8)


@register("SQUARED_DIFFERENCE")
def build_squared_difference(ctx):
    """int8: squared_difference.cc, scalar arithmetic with a 7-bit left shift and the square rescaled
    by (2*max(s1, s2))^2 / (2^14 * s_out), looked up in a table of all input pairs (pair_table)."""
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        return _float(ctx, lambda a, b: np.square(a - b))
    (s1, z1), (s2, z2), (so, zo) = _check_int8(ctx)
    twice_max = 2.0 * float(max(F32(s1), F32(s2)))
    m1 = quant.quantize_multiplier(float(F32(s1)) / twice_max)
    m2 = quant.quantize_multiplier(float(F32(s2)) / twice_max)
    mo = quant.quantize_multiplier(twice_max * twice_max / float(F32((1 << 14) * F32(so))))

    def sqdiff(x1, x2, lanes=None):
        a = quant.multiply_by_quantized_multiplier((x1.astype(np.int64) - z1) << 7, *m1)
        b = quant.multiply_by_quantized_multiplier((x2.astype(np.int64) - z2) << 7, *m2)
        y = quant.multiply_by_quantized_multiplier((a - b) * (a - b), *mo) + zo
        return np.clip(y, -128, 127).astype(np.int8)

    # scalar code on every element: one 256 x 256 table of that arithmetic
    return pair_table(sqdiff, (), (16, 8))


def _min_max(ctx, fn):
    dt = ctx.require_dtypes(("float32", "int8", "int32", "int64"))
    if dt == "int8":
        (s1, z1), (s2, z2), (so, zo) = _check_int8(ctx)
        if not (s1 == s2 == so and z1 == z2 == zo):
            raise ctx.unsupported("int8 inputs and output with different quantization")
    return lambda ins: [fn(ins[0], ins[1])]


@register("MINIMUM")
def build_minimum(ctx):
    return _min_max(ctx, np.minimum)


@register("MAXIMUM")
def build_maximum(ctx):
    return _min_max(ctx, np.maximum)

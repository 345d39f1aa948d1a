"""Elementwise binary ops with broadcasting: ADD, SUB, MUL, SQUARED_DIFFERENCE, MINIMUM, MAXIMUM (DIV: div.py).

int8 ADD/SUB follow add.cc/sub.cc: both inputs are shifted left by 20 bits and rescaled to
2*max(s1, s2), summed, then rescaled to the output (three QuantizeMultiplier'd factors, the double
computations of Prepare kept). int8 MUL: out_zp + MBQM((x1 - z1) * (x2 - z2), s1*s2/s_out) with the
float32 product of Prepare. ADD and MUL reproduce which elements LiteRT's vector loops compute
(vector_paths); SUB runs LiteRT's scalar reference code. MINIMUM/MAXIMUM compare raw values (inputs and output share parameters).

As an int8 ADD/SUB/MUL output depends only on the pair of input values and on which loop computes
it, each is built at load into 256 x 256 tables, one per rounding (scalar code, elementwise vector
loop, scalar-broadcast vector loop), computed by the very arithmetic above (`pair_table`); invoke
then only looks up (x1, x2) in the table its vector mask selects, at the flat index 256 x1 + x2.
"""
from __future__ import annotations

import numpy as np

from .. import quant
from . import vector_paths as vp
from .registry import register

F32 = np.float32
LEFT_SHIFT = 20


def _float(ctx, fn):
    """fn: a NumPy ufunc (called with dtype float32) or a function of two float32 arrays."""
    act = ctx.activation() if "fused_activation_function" in ctx.options else "NONE"
    if act == "NONE" and isinstance(fn, np.ufunc):
        return lambda ins: [fn(ins[0], ins[1], dtype=F32)]

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
        return _float(ctx, np.add if sign > 0 else np.subtract)
    if dt == "int32":
        act = ctx.activation()
        if act != "NONE":
            raise ctx.unsupported(f"int32 with fused {act}")
        fn = np.add if sign > 0 else np.subtract
        return lambda ins: [fn(ins[0], ins[1], dtype=np.int32)]
    (s1, z1), (s2, z2), (so, zo) = _check_int8(ctx)
    twice_max = 2.0 * float(max(F32(s1), F32(s2)))
    m1 = quant.quantize_multiplier(float(F32(s1)) / twice_max)
    m2 = quant.quantize_multiplier(float(F32(s2)) / twice_max)
    mo = quant.quantize_multiplier(twice_max / float(F32((1 << LEFT_SHIFT) * F32(so))))
    lo, hi = quant.activation_range(ctx.activation(), so, zo, np.int8)
    p = (m1, m2, mo, z1, z2, zo, lo, hi)
    return pair_table((lambda a, b, lanes: add_sub_int8(a, b, p, sign, lanes)),
                      ("elementwise", "scalar") if sign > 0 else (), (16, 8), (ctx.const(0), ctx.const(1)))


def pair_table(compute, vector_kinds, blocks, consts=(None, None)):
    """An int8 binary kernel as table lookups (module docstring).

    compute(x1, x2, lanes) is the kernel's own arithmetic with lanes = (kind, vector mask) forced;
    it is run once on all 65536 pairs for the scalar code ("generic", no vector lane) and once per
    vector loop kind the op has. Invoke indexes a flat table with k = 256 x1 + x2 (one int64 shift
    and one add), which is one-to-one on pairs of int8 values, in [-32896, 32639]:
    - when one loop computes every element of the shapes, its table holds the pair's result at
      k mod 65536, which is where NumPy reads a negative index k >= -65536;
    - otherwise the tables of all loops are laid end to end, 65536 entries each, the pair's result of
      loop j at 65536 j + 32896 + k, and the per-shape array 65536 j + 32896 is added
      (vector_paths.broadcast_lanes(..., *blocks) gives j per element).
    consts: the inputs' load-time values (None: computed at run time). A one-element constant
    operand selects, at load, the 256 results of each loop for that operand: k = x.
    """
    values = np.arange(-128, 128, dtype=np.int8)
    g1, g2 = np.meshgrid(values, values, indexing="ij")
    kinds = ("generic",) + tuple(vector_kinds)
    results = np.stack([compute(g1, g2, (k, np.full(g1.shape, k != "generic"))) for k in kinds])  # [j, x1+128, x2+128]
    scalar = [c is not None and c.size == 1 for c in consts]
    if scalar[0] != scalar[1]:
        side = 0 if scalar[0] else 1
        c = int(consts[side].reshape(-1)[0]) + 128
        return _run_one_side(results[:, c, :] if side == 0 else results[:, :, c], consts[side].shape, side,
                             kinds, blocks)
    k = (g1.astype(np.int64) << 8) + g2
    wrapped = np.empty((len(kinds), 65536), np.int8)
    wrapped[:, k % 65536] = results
    stacked = results.reshape(-1)  # entry 65536 j + 256 (x1 + 128) + x2 + 128 = 65536 j + 32896 + k
    lanes = {}  # (shape1, shape2) -> (flat table, lane offsets or None, whether x1 has the output's shape)

    def run(ins):
        x1, x2 = ins[0], ins[1]
        key = (x1.shape, x2.shape)
        hit = lanes.get(key)
        if hit is None:
            j, base = _lanes(x1.shape, x2.shape, kinds, blocks, 65536, 32896)
            out = np.broadcast_shapes(x1.shape, x2.shape)
            hit = lanes[key] = (wrapped[j] if base is None else stacked, base, out == x1.shape)
        table, base, in_place = hit
        i = x1.astype(np.intp)
        i <<= 8
        if in_place:
            i += x2
        else:
            i = i + x2
        if base is not None:
            i += base
        return [table[i]]

    return run


def _run_one_side(results, c_shape, side, kinds, blocks):
    """pair_table with input `side` a one-element constant: results[j, x + 128] for the other input x."""
    wrapped = np.roll(results, -128, axis=1)  # entry x mod 256
    stacked = results.reshape(-1)  # entry 256 j + 128 + x
    lanes = {}

    def run(ins):
        x = ins[1 - side]
        hit = lanes.get(x.shape)
        if hit is None:
            shapes = (c_shape, x.shape) if side == 0 else (x.shape, c_shape)
            j, base = _lanes(*shapes, kinds, blocks, 256, 128)
            if base is None and np.broadcast_shapes(*shapes) != x.shape:
                base = np.full(np.broadcast_shapes(*shapes), 256 * j + 128, np.intp)
            hit = lanes[x.shape] = (wrapped[j] if base is None else stacked, base)
        table, base = hit
        i = x.astype(np.intp)
        if base is not None:
            i = i + base
        return [table[i]]

    return run


def _lanes(shape1, shape2, kinds, blocks, size, offset):
    """(j, None) when loop kinds[j] computes every output element for these input shapes, else
    (None, per-element size * j + offset) for the tables laid end to end."""
    if len(kinds) == 1:
        return 0, None
    kind, vec, _ = vp.broadcast_lanes(shape1, shape2, *blocks)
    if kind == "generic" or not vec.any():
        return 0, None
    if vec.all():
        return kinds.index(kind), None
    return None, np.where(vec, size * kinds.index(kind) + offset, offset).astype(np.intp)


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
        return _float(ctx, np.multiply)
    if dt == "int32":
        return lambda ins: [np.multiply(ins[0], ins[1], dtype=np.int32)]
    (s1, z1), (s2, z2), (so, zo) = _check_int8(ctx)
    mult, shift = quant.quantize_multiplier(float(F32(F32(s1) * F32(s2)) / F32(so)))
    lo, hi = quant.activation_range(ctx.activation(), so, zo, np.int8)
    p = (z1, z2, mult, shift, zo, lo, hi)
    return pair_table((lambda a, b, lanes: mul_int8(a, b, p, lanes)), ("elementwise", "scalar"), (16, 16),
                      (ctx.const(0), ctx.const(1)))


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
    return pair_table(sqdiff, (), (16, 8), (ctx.const(0), ctx.const(1)))


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

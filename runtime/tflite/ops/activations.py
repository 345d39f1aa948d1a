"""Unary activations (activations.cc): RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, LOGISTIC, TANH,
HARD_SWISH, GELU, and RSQRT.

float32 kernels compute in float64 and round once; int8 kernels are 256-entry tables built with
LiteRT's int8 arithmetic: LUTPopulate for LOGISTIC/TANH/GELU/ELU/EXP (with expf/tanhf/erfc taken as the
correctly rounded float64 value rounded to float32), MultiplyByQuantizedMultiplier for the ReLUs, and
the 16-bit fixed-point HardSwish of reference_ops::HardSwish (Howard et al., "Searching for
MobileNetV3", 2019, for the function itself).
"""
from __future__ import annotations

import math

import numpy as np

from .. import quant
from . import lut
from .hard_swish import hard_swish_int8_table
from .registry import register

F32 = np.float32


def erfc64(z):
    """Complementary error function, fractional error < 1.2e-7 (Numerical Recipes, 2nd ed., 6.2 erfcc)."""
    z = np.asarray(z, np.float64)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(poly)
    return np.where(z >= 0, r, 2.0 - r)


def _logistic_f32(v):
    e = np.exp(-v.astype(np.float64)).astype(F32)
    return (F32(1.0) / (F32(1.0) + e)).astype(F32)


def _tanh_f32(v):
    return np.tanh(v.astype(np.float64)).astype(F32)


def _gelu_f32(v, approximate):
    if approximate:
        inner = (v + F32(0.044715) * v * v * v).astype(F32)
        t = np.tanh((F32(math.sqrt(2.0 / math.pi)) * inner).astype(np.float64)).astype(F32)
        return (F32(0.5) * v * (F32(1.0) + t)).astype(F32)
    arg = (v * F32(-math.sqrt(0.5))).astype(F32)
    e = np.array([math.erfc(float(a)) for a in arg], np.float64).astype(F32)  # 256 table entries
    return ((F32(0.5) * v) * e).astype(F32)


def _unary(ctx, float_fn, int8_table_fn):
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "float32":
        return lambda ins: [np.asarray(float_fn(ins[0]), F32)]
    if int8_table_fn is None:
        raise ctx.unsupported("int8")
    s_in, z_in = ctx.qparams(ctx.inputs[0])
    s_out, z_out = ctx.qparams(ctx.outputs[0])
    table = int8_table_fn(s_in, z_in, s_out, z_out)
    run = lut.by_value(table)
    return lambda ins: [run(ins[0])]


def _relu_table(lo_f, hi_f):
    """QuantizedReluX: clamp(out_zp + MBQM(x - in_zp, in_scale/out_scale), act range); the float32
    division in ReluPrepare is kept."""

    def table(s_in, z_in, s_out, z_out):
        mult, shift = quant.quantize_multiplier(float(F32(s_in) / F32(s_out)))
        lo = max(-128, z_out + int(quant.round_half_away(F32(lo_f) / F32(s_out))))
        hi = 127 if hi_f is None else min(127, z_out + int(quant.round_half_away(F32(hi_f) / F32(s_out))))
        y = z_out + quant.multiply_by_quantized_multiplier(lut.INT8_VALUES - z_in, mult, shift)
        return np.clip(y, lo, hi).astype(np.int8)

    return table


@register("RELU")
def build_relu(ctx):
    return _unary(ctx, lambda x: np.maximum(x, F32(0)), _relu_table(0.0, None))


@register("RELU6")
def build_relu6(ctx):
    return _unary(ctx, lambda x: np.clip(x, F32(0), F32(6)), _relu_table(0.0, 6.0))


@register("RELU_N1_TO_1")
def build_relu_n1_to_1(ctx):
    return _unary(ctx, lambda x: np.clip(x, F32(-1), F32(1)), _relu_table(-1.0, 1.0))


@register("LEAKY_RELU")
def build_leaky_relu(ctx):
    alpha = float(ctx.options.get("alpha", 0.0))

    def table(s_in, z_in, s_out, z_out):
        m_a, sh_a = quant.quantize_multiplier(float(F32(F32(s_in) * F32(alpha)) / F32(s_out)))
        m_i, sh_i = quant.quantize_multiplier(float(F32(s_in) / F32(s_out)))
        v = lut.INT8_VALUES - z_in
        y = np.where(v >= 0, quant.multiply_by_quantized_multiplier(v, m_i, sh_i),
                     quant.multiply_by_quantized_multiplier(v, m_a, sh_a)) + z_out
        return np.clip(y, -128, 127).astype(np.int8)

    return _unary(ctx, lambda x: np.where(x > 0, x, (x * F32(alpha)).astype(F32)), table)


@register("LOGISTIC")
def build_logistic(ctx):
    return _unary(ctx, lambda x: (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(F32),
                  lambda *q: lut.lut_populate(_logistic_f32, *q))


@register("TANH")
def build_tanh(ctx):
    return _unary(ctx, _tanh_f32, lambda *q: lut.lut_populate(_tanh_f32, *q))


@register("HARD_SWISH")
def build_hard_swish(ctx):
    def f(x):
        return (x * np.minimum(F32(6), np.maximum(F32(0), x + F32(3))) / F32(6)).astype(F32)

    return _unary(ctx, f, hard_swish_int8_table)


@register("GELU")
def build_gelu(ctx):
    approx = bool(ctx.options.get("approximate", False))

    c = math.sqrt(2.0 / math.pi)
    k0, k1 = -2.0 * c, -2.0 * c * 0.044715

    def f(x):
        x64 = x.astype(np.float64)  # once: float64 ops reading float32 operands run slower loops
        if approx:
            # 0.5 x (1 + tanh(u)) = x / (1 + exp(-2 u)), u = c x (1 + 0.044715 x^2): fewer passes than
            # tanh, and no cancellation in 1 + tanh(u) for u << 0. exp's argument is capped at 700
            # (no overflow): the quotient is then below 1e-266, zero in float32 as the formula's.
            t = np.multiply(x64, x64)
            t *= k1
            t += k0
            t *= x64
            np.minimum(t, 700.0, out=t)
            np.exp(t, out=t)
            t += 1.0
            return np.divide(x64, t, out=t)
        return 0.5 * x64 * erfc64(-x64 * math.sqrt(0.5))

    return _unary(ctx, f, lambda *q: lut.lut_populate(lambda v: _gelu_f32(v, approx), *q))


@register("ELU")
def build_elu(ctx):
    def f32(v):
        return np.where(v < 0, np.expm1(v.astype(np.float64)).astype(F32), v).astype(F32)

    return _unary(ctx, lambda x: np.where(x < 0, np.expm1(x.astype(np.float64)), x), lambda *q: lut.lut_populate(f32, *q))


@register("EXP")
def build_exp(ctx):
    def f32(v):
        return np.exp(v.astype(np.float64)).astype(F32)

    return _unary(ctx, lambda x: np.exp(x.astype(np.float64)), lambda *q: lut.lut_populate(f32, *q))

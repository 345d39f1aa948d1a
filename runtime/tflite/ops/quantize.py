"""QUANTIZE (float -> int8/uint8/int16, or requantize between integer types) and DEQUANTIZE (quantize.cc,
dequantize.cc).

float -> int: round(x / scale) + zero_point with the division in double and halves away from zero
(optimized_ops::AffineQuantize's scalar tail), and x * float32(1/scale) rounded half to even in its
8-lane vector loop; int -> int: MultiplyByQuantizedMultiplier(x - zp_in, in_scale/out_scale), int8 -> int8 with the
rounding of the 16-lane vector loop for all but the tail (vector_paths).
"""
from __future__ import annotations

import numpy as np

from .. import quant
from . import vector_paths as vp
from .registry import register


def _axis_shape(ndim, axis, n):
    shape = [1] * ndim
    shape[axis] = n
    return shape


@register("QUANTIZE")
def build_quantize(ctx):
    src, dst = ctx.dtype(0), ctx.out_dtype(0)
    if dst not in ("int8", "uint8", "int16"):
        raise ctx.unsupported(f"quantize to {dst}")
    lo, hi = quant.dtype_range(dst)
    out_q = ctx.outputs[0].quantization
    if src == "float32":
        if out_q is None or not out_q.scale:
            raise ctx.unsupported("output without quantization parameters")
        scale = np.asarray(out_q.scale, np.float32).astype(np.float64)
        zp = np.asarray(out_q.zero_point, np.int64)
        axis = out_q.quantized_dimension if out_q.per_channel else None

        vector = dst in ("int8", "uint8") and axis is None
        inv = np.float32(1.0 / float(scale[0])) if vector else None

        def run_float(ins):
            x = ins[0].astype(np.float64)
            s, z = scale, zp
            if axis is not None:
                s, z = s.reshape(_axis_shape(x.ndim, axis, -1)), z.reshape(_axis_shape(x.ndim, axis, -1))
            q = quant.round_half_away(x / s)
            if vector and x.size >= 8:
                # the 8-lane loop of optimized_ops::AffineQuantize: x * float32(1/scale), rounded to even
                qv = np.rint((ins[0].astype(np.float32) * inv).astype(np.float32)).astype(np.float64)
                q = np.where(vp.flat_vector_mask(x.size, 8).reshape(x.shape), qv, q)
            q = np.clip(np.nan_to_num(q, nan=0.0), -(1 << 40), 1 << 40).astype(np.int64) + z
            return [np.clip(q, lo, hi).astype(dst)]

        return run_float
    if src not in ("int8", "uint8", "int16"):
        raise ctx.unsupported(f"quantize from {src}")
    s_in, z_in = ctx.qparams(ctx.inputs[0])
    s_out, z_out = ctx.qparams(ctx.outputs[0])
    mult, shift = quant.quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))

    vector = src == "int8" and dst == "int8"  # optimized_ops::Requantize<int8_t, int8_t> has a 16-lane loop

    def run_requant(ins):
        x = ins[0].astype(np.int64) - z_in
        y = quant.multiply_by_quantized_multiplier(x, mult, shift)
        if vector and x.size >= 16:
            vec = vp.flat_vector_mask(x.size, 16).reshape(x.shape)
            y = vp.select(vec, lambda: vp.mbqm_4rows(x, mult, shift), lambda: y)
        return [np.clip(y + z_out, lo, hi).astype(dst)]

    return run_requant


@register("DEQUANTIZE")
def build_dequantize(ctx):
    src, dst = ctx.dtype(0), ctx.out_dtype(0)
    if dst != "float32":
        raise ctx.unsupported(f"dequantize to {dst}")
    if src == "float16":
        return lambda ins: [ins[0].astype(np.float32)]
    if src not in ("int8", "uint8", "int16", "int32"):
        raise ctx.unsupported(f"dequantize from {src}")
    q = ctx.inputs[0].quantization
    if q is None or not q.scale:
        raise ctx.unsupported("input without quantization parameters")
    scale = np.asarray(q.scale, np.float32)
    zp = np.asarray(q.zero_point, np.int64)
    axis = q.quantized_dimension if q.per_channel else None

    def run(ins):
        x = ins[0].astype(np.int64)
        s, z = scale, zp
        if axis is not None:
            s, z = s.reshape(_axis_shape(x.ndim, axis, -1)), z.reshape(_axis_shape(x.ndim, axis, -1))
        return [((x - z).astype(np.float32) * s).astype(np.float32)]

    return run

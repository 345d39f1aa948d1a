"""BATCH_MATMUL (batch_matmul.cc): matmul over the last two axes with broadcast batch dims, adj_x /
adj_y transposing an operand. int8 runs reference_ops::BatchMatMul: exact int32 sums of
(lhs - lhs_zp)(rhs - rhs_zp), then the scalar MultiplyByQuantizedMultiplier with
s_lhs * s_rhs / s_out (double).
"""
from __future__ import annotations

import numpy as np

from .. import quant
from .common import gemm_dtype
from .registry import register


@register("BATCH_MATMUL")
def build_batch_matmul(ctx):
    adj_x = bool(ctx.options.get("adj_x", False))
    adj_y = bool(ctx.options.get("adj_y", False))
    dt = ctx.dtype(0)
    if dt not in ("float32", "int8") or ctx.dtype(1) != dt or ctx.out_dtype(0) != dt:
        raise ctx.unsupported(f"dtypes {ctx.dtype(0)} x {ctx.dtype(1)} -> {ctx.out_dtype(0)}")

    def operands(ins):
        a, b = ins[0], ins[1]
        if adj_x:
            a = np.swapaxes(a, -1, -2)
        if adj_y:
            b = np.swapaxes(b, -1, -2)
        return a, b

    if dt == "float32":
        def run_float(ins):
            a, b = operands(ins)
            return [np.matmul(a, b)]  # float32 accumulation, as LiteRT's float kernel

        return run_float
    s1, z1 = ctx.qparams(ctx.inputs[0])
    s2, z2 = ctx.qparams(ctx.inputs[1])
    so, zo = ctx.qparams(ctx.outputs[0])
    mult, shift = quant.quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(so)))

    right = shift <= 0 and mult >= 0
    gdts = {}  # depth -> exact GEMM dtype (common.gemm_dtype)

    def run_int(ins):
        a, b = operands(ins)
        k = a.shape[-1]
        gdt = gdts.get(k)
        if gdt is None:
            gdt = gdts[k] = gemm_dtype(k, 255, 255)
        acc = np.matmul(a.astype(gdt) - gdt(z1), b.astype(gdt) - gdt(z2)).astype(np.int64)
        if right:
            y = quant.multiply_by_quantized_multiplier_right(acc, mult, shift)
        else:
            y = quant.multiply_by_quantized_multiplier(acc, mult, shift)
        y += zo
        return [np.clip(y, -128, 127).astype(np.int8)]

    return run_int

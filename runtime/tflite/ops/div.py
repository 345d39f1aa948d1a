"""DIV (div.cc). float32: a / b. int8: reference_ops::DivElementwise, which LiteRT runs for int8: the
divisor's reciprocal from GetReciprocal (a fixed-point Newton iteration), the dividend shifted up by
its sign-bit headroom, then MultiplyByQuantizedMultiplier with s1 / (s2 * s_out) (float32, as in
Prepare). Every int8 pair has one result, so the kernel is a 256 x 256 table built at construction."""
from __future__ import annotations

import numpy as np

from .. import quant
from . import fixedpoint as fp
from .registry import register

F32 = np.float32


def div_int8_table(z1, z2, mult, shift, z_out, lo, hi) -> np.ndarray:
    """table[x1 + 128, x2 + 128]; entries with a zero divisor are never read (run() refuses them)."""
    v1 = np.arange(-128, 128, dtype=np.int64) - z1
    v2 = np.arange(-128, 128, dtype=np.int64) - z2
    sign = np.where(v2 < 0, -1, 1)
    inv = np.zeros(256, np.int64)
    recip_shift = np.zeros(256, np.int64)
    for j, d in enumerate(np.abs(v2).tolist()):
        if d:
            inv[j], recip_shift[j] = fp.reciprocal(d)
    num = v1[:, None] * sign[None, :]  # DivElementwise flips both signs for a negative divisor
    headroom = np.vectorize(fp.clrsb32, otypes=[np.int64])(np.arange(-511, 512))[num + 511]
    unscaled = quant.saturating_rounding_doubling_high_mul(num << headroom, inv[None, :])
    total_shift = shift - recip_shift[None, :] - headroom
    scaled = quant.saturating_rounding_doubling_high_mul(unscaled, mult)
    out = quant.rounding_divide_by_pot(scaled, np.maximum(-total_shift, 0)) + z_out
    return np.clip(out, lo, hi).astype(np.int8)


@register("DIV")
def build_div(ctx):
    dt = ctx.require_dtypes(("float32", "int8"))
    act = ctx.activation()
    if dt == "float32":
        return lambda ins: [quant.float_activation((ins[0].astype(np.float64) / ins[1]).astype(F32), act)]
    if ctx.dtype(1) != "int8":
        raise ctx.unsupported(f"int8 dividend with {ctx.dtype(1)} divisor")
    (s1, z1), (s2, z2), (so, zo) = (ctx.qparams(t) for t in (ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]))
    mult, shift = quant.quantize_multiplier(float(F32(F32(s1) / F32(F32(s2) * F32(so)))))
    lo, hi = quant.activation_range(act, so, zo, np.int8)
    table = div_int8_table(z1, z2, mult, shift, zo, lo, hi)

    def run(ins):
        a, b = np.broadcast_arrays(ins[0].astype(np.int16) + 128, ins[1].astype(np.int16) + 128)
        if np.any(ins[1].astype(np.int16) == z2):
            raise ZeroDivisionError("int8 DIV by a divisor equal to its zero point (LiteRT refuses it too)")
        return [table[a, b]]

    return run

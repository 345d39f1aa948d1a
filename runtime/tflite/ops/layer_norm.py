"""EDGEWISE_LAYER_NORM: the op passes/fuse_layer_norm.py puts in place of a converter's float32
layer norm: y = (x - mean) * rsqrt(var + eps) * gamma over the last axis, in float64, rounded once."""
from __future__ import annotations

import numpy as np

from .registry import register_fused


@register_fused("EDGEWISE_LAYER_NORM")
def build_layer_norm(ctx):
    gamma, eps = ctx.const(1), ctx.const(3)
    if gamma is None or eps is None or ctx.dtype(0) != "float32":
        raise ctx.unsupported("float32 input with constant gamma and epsilon required")
    g = gamma.astype(np.float64)
    e = float(eps.reshape(-1)[0])

    def run(ins):
        x = ins[0].astype(np.float64)
        d = x - x.mean(axis=-1, keepdims=True)
        var = np.einsum("...i,...i->...", d, d)[..., None]
        var /= x.shape[-1]
        var += e
        np.sqrt(var, out=var)
        d /= var
        d *= g
        return [d.astype(np.float32)]

    return run

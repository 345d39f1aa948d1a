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
    scaled = {}  # n -> (1 / n, n * eps, gamma * sqrt(n)): (x - mean) * gamma / sqrt(sum((x - mean)^2) / n + eps)

    def run(ins):
        x = ins[0].astype(np.float64)
        n = x.shape[-1]
        c = scaled.get(n)
        if c is None:
            c = scaled[n] = (1.0 / n, n * e, g * np.sqrt(n))
        inv_n, n_eps, g_n = c
        m = np.add.reduce(x, axis=-1, keepdims=True)
        m *= inv_n
        x -= m
        v = np.add.reduce(np.multiply(x, x), axis=-1, keepdims=True)
        v += n_eps
        np.sqrt(v, out=v)
        x /= v
        x *= g_n
        return [x.astype(np.float32)]

    return run

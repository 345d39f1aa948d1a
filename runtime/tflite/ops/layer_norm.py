"""EDGEWISE_LAYER_NORM: the op passes/fuse_layer_norm.py puts in place of a converter's float32
layer norm: y = (x - mean) * rsqrt(var + eps) * gamma over the last axis, in float64, rounded once.

For rows of at most CENTER_MATMUL_MAX values, x - mean is x (I - 1 1^T / n) and var is
(x - mean)^2 . (1 / n): two float64 matmuls, which also convert the float32 input, in place of a
conversion, a sum, a scaling and a subtraction (the same float64 arithmetic up to the order of the
additions, far below float32's resolution).
"""
from __future__ import annotations

import numpy as np

from .registry import register_fused

CENTER_MATMUL_MAX = 64  # the matmul costs n^2 per row: for longer rows, sums


@register_fused("EDGEWISE_LAYER_NORM")
def build_layer_norm(ctx):
    gamma, eps = ctx.const(1), ctx.const(3)
    if gamma is None or eps is None or ctx.dtype(0) != "float32":
        raise ctx.unsupported("float32 input with constant gamma and epsilon required")
    g = gamma.astype(np.float64)
    e = float(eps.reshape(-1)[0])
    per_n = {}  # n -> (centering matrix, 1 / n vector) or None for the row-sum path

    def run(ins):
        x = ins[0]
        n = x.shape[-1]
        c = per_n.get(n, 0)
        if c == 0:
            c = per_n[n] = (np.eye(n) - 1.0 / n, np.full(n, 1.0 / n)) if 0 < n <= CENTER_MATMUL_MAX else None
        if c is not None:
            d = np.matmul(x, c[0])
            v = np.matmul(np.multiply(d, d), c[1])[..., None]
        else:
            d = x.astype(np.float64)
            d -= np.add.reduce(d, axis=-1, keepdims=True) / n
            v = np.add.reduce(np.multiply(d, d), axis=-1, keepdims=True) / n
        v += e
        np.sqrt(v, out=v)
        d /= v
        d *= g
        return [d.astype(np.float32)]

    return run

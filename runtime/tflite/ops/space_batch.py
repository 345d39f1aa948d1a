"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (the converter's rewrite of dilated convolutions).

SpaceToBatch pads the spatial dims, cuts them into block_shape tiles and moves the tile offsets into
the batch dim (offset-major); BatchToSpace is its inverse followed by the crops. Quantized tensors pad
with the output zero point.
"""
from __future__ import annotations

import numpy as np

from .registry import register


def space_to_batch(x, block, pads, fill):
    n, rest = x.shape[0], x.shape[1 + len(block):]
    widths = [(0, 0)] + [tuple(int(v) for v in p) for p in pads] + [(0, 0)] * len(rest)
    xp = np.pad(x, widths, constant_values=fill)
    m = len(block)
    shape = [n]
    for d in range(m):
        shape += [xp.shape[1 + d] // block[d], block[d]]
    y = xp.reshape(shape + list(rest))
    perm = [2 + 2 * d for d in range(m)] + [0] + [1 + 2 * d for d in range(m)] + list(range(1 + 2 * m, y.ndim))
    y = y.transpose(perm)
    return np.ascontiguousarray(y.reshape([n * int(np.prod(block))] + [xp.shape[1 + d] // block[d] for d in range(m)]
                                          + list(rest)))


def batch_to_space(x, block, crops):
    m = len(block)
    nb, spatial, rest = x.shape[0], x.shape[1:1 + m], x.shape[1 + m:]
    n = nb // int(np.prod(block))
    y = x.reshape(list(block) + [n] + list(spatial) + list(rest))
    perm = [m]
    for d in range(m):
        perm += [m + 1 + d, d]
    perm += list(range(2 * m + 1, y.ndim))
    y = y.transpose(perm).reshape([n] + [spatial[d] * block[d] for d in range(m)] + list(rest))
    idx = (slice(None),) + tuple(slice(int(c[0]), y.shape[1 + d] - int(c[1])) for d, c in enumerate(crops))
    return np.ascontiguousarray(y[idx])


def _fill(ctx):
    q = ctx.outputs[0].quantization
    return ctx.qparams(ctx.outputs[0])[1] if q is not None and q.scale and ctx.out_dtype(0) != "float32" else 0


@register("SPACE_TO_BATCH_ND")
def build_space_to_batch(ctx):
    fill = _fill(ctx)

    def run(ins):
        pads = ins[2].reshape(-1, 2)
        ctx.check_output_size([d + int(a) + int(b) for d, (a, b) in zip(ins[0].shape[1:], pads)] + [ins[0].shape[0]])
        return [space_to_batch(ins[0], [int(b) for b in ins[1].reshape(-1)], pads, fill)]

    return run


@register("BATCH_TO_SPACE_ND")
def build_batch_to_space(ctx):
    return lambda ins: [batch_to_space(ins[0], [int(b) for b in ins[1].reshape(-1)], ins[2].reshape(-1, 2))]

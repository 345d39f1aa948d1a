"""PAD, PADV2 and MIRROR_PAD (pad.cc, mirror_pad.cc). Quantized PAD fills with the output zero point,
which is the quantized 0."""
from __future__ import annotations

import numpy as np

from .registry import register


def _pads(p, ndim):
    p = np.asarray(p, np.int64).reshape(-1, 2)
    if p.shape[0] < ndim:
        p = np.concatenate([np.zeros((ndim - p.shape[0], 2), np.int64), p])
    return [tuple(int(v) for v in row) for row in p]


@register("PAD", "PADV2")
def build_pad(ctx):
    fill = 0
    if ctx.out_dtype(0) in ("int8", "uint8", "int16") and ctx.outputs[0].quantization is not None:
        fill = ctx.qparams(ctx.outputs[0])[1]
    has_value = ctx.op.op == "PADV2" and ctx.has_input(2)

    def run(ins):
        x = ins[0]
        value = ins[2].reshape(-1)[0] if has_value else fill
        pads = _pads(ins[1], x.ndim)
        ctx.check_output_size([d + a + b for d, (a, b) in zip(x.shape, pads)])
        return [np.pad(x, pads, constant_values=value)]

    return run


@register("MIRROR_PAD")
def build_mirror_pad(ctx):
    mode = "reflect" if ctx.options.get("mode", 0) == 0 else "symmetric"
    def run(ins):
        pads = _pads(ins[1], ins[0].ndim)
        ctx.check_output_size([d + a + b for d, (a, b) in zip(ins[0].shape, pads)])
        return [np.pad(ins[0], pads, mode=mode)]

    return run

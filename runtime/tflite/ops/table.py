"""EDGEWISE_INT8_TABLE: the op passes/fuse_int8_chains.py puts in place of an int8 chain.

Input 1 is the table, (positions, 256) int8: row p, column u holds the chain's output at flat
position p for the int8 input whose byte is u; one row when no position differs.
"""
from __future__ import annotations

import numpy as np

from .registry import register_fused


@register_fused("EDGEWISE_INT8_TABLE")
def build_int8_table(ctx):
    table = ctx.const(1)
    if table is None or table.dtype != np.int8 or table.ndim != 2 or table.shape[1] != 256:
        raise ctx.unsupported("an int8 table of shape (positions, 256) is required")
    if table.shape[0] == 1:
        row = table[0]  # by byte: NumPy reads a negative index v at 256 + v, the byte of v
        return lambda ins: [row[ins[0].astype(np.intp)]]
    flat = table.reshape(-1)
    base = np.arange(table.shape[0], dtype=np.intp) * 256

    def run(ins):
        x = ins[0]
        idx = base + x.view(np.uint8).reshape(-1)
        return [np.take(flat, idx).reshape(x.shape)]

    return run

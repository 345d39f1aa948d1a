"""A TRANSPOSE that feeds only a BATCH_MATMUL becomes part of it: EDGEWISE_BATCH_MATMUL.

Attention blocks transpose (batch, seq, heads, depth) to (batch, heads, seq, depth) before each
BATCH_MATMUL. np.matmul reads a transposed view as well as a copy (NumPy hands BLAS the view's
strides, or the int8 kernel's zero-point subtraction makes the contiguous copy it needs anyway), so
EDGEWISE_BATCH_MATMUL(x, y, perm_x, perm_y) with BATCH_MATMUL's options computes
BATCH_MATMUL(TRANSPOSE(x, perm_x), TRANSPOSE(y, perm_y)) without the copy and the step: the same
products of the same values (TRANSPOSE moves bytes, the quantization of its input and output must
be equal, so the kernel reads the same scale and zero point), bit for bit in int8. A missing
perm (input -1) is no transpose. Only a constant permutation of a tensor nothing else reads and
that is not a graph output is fused (`Graph.is_private`).
"""
from __future__ import annotations

from dataclasses import replace

from ..graph import Graph

OP = "EDGEWISE_BATCH_MATMUL"  # inputs: x, y, perm_x (or -1), perm_y (or -1); BATCH_MATMUL's options


def fuse_transpose_matmul(graph: Graph) -> Graph:
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    tensors = graph.tensors
    dropped = {}
    for k, op in enumerate(ops):
        if op.op != "BATCH_MATMUL" or len(op.inputs) != 2:
            continue
        ins, perms = list(op.inputs), [-1, -1]
        for side, t in enumerate(op.inputs):
            p = producers.get(t)
            if p is None or p in dropped or ops[p].op != "TRANSPOSE" or not graph.is_private(t, consumers):
                continue
            src, perm = ops[p].inputs[0], ops[p].inputs[1]
            if perm not in graph.constants or tensors[src].quantization != tensors[t].quantization:
                continue
            ins[side], perms[side] = src, perm
            dropped[p] = None
        if perms != [-1, -1]:
            dropped[k] = replace(op, op=OP, opcode_index=-1, custom_code=None, inputs=tuple(ins) + tuple(perms))
    if not dropped:
        return graph
    out = [dropped.get(k, op) if k in dropped else op for k, op in enumerate(ops)]
    return graph.with_operators([op for op in out if op is not None])

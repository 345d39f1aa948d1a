"""Consecutive RESHAPEs and TRANSPOSEs collapse into one op.

RESHAPE(RESHAPE(x, a), b) is RESHAPE(x, b): a reshape's result depends only on the element count
of its input (the same for x and RESHAPE(x, a)) and on its own shape argument, so the second op
keeps its options and shape input and reads x directly. TRANSPOSE(TRANSPOSE(x, p), q) with
constant permutations is TRANSPOSE(x, p[q]) (output axis k of the second reads axis q[k] of the
first, which reads axis p[q[k]] of x). A permutation that composes to the identity still runs as
a TRANSPOSE (a view, no copy). Only an intermediate that nothing else reads and that is not a
graph output is removed (`Graph.is_private`), and quantized tensors keep their bytes through
both ops, so the pair and the fused op give identical arrays.

`fuse_reshape_into_fc` (run per plan, when shapes are known) drops a RESHAPE to (rows, K) in front
of a FULLY_CONNECTED with K inputs and keep_num_dims = false: that kernel views its input as
(-1, K) itself (fully_connected.cc), so it computes the same rows from the unreshaped tensor.
`drop_identity_reshapes` (per plan too) drops a RESHAPE whose output has its input's shape in that
plan: its readers get the very same array (bytes, shape and quantization) from the input.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from typing import Mapping, Tuple

from ..graph import Graph


def fuse_reshapes(graph: Graph) -> Graph:
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    constants = graph.constants
    dropped = set()
    changed = False
    for k, op in enumerate(ops):
        if op.op not in ("RESHAPE", "TRANSPOSE") or not op.inputs or op.inputs[0] < 0:
            continue
        src = producers.get(op.inputs[0])
        if src is None or src in dropped or ops[src].op != op.op or not graph.is_private(op.inputs[0], consumers):
            continue
        first = ops[src]
        if first.inputs[0] < 0:
            continue
        if op.op == "TRANSPOSE":
            p, q = constants.get(first.inputs[1]), constants.get(op.inputs[1])
            if p is None or q is None or p.ndim != 1 or q.ndim != 1 or len(p) != len(q):
                continue
            if sorted(int(v) % len(p) for v in p) != list(range(len(p))):
                continue
            qi = [int(v) % len(q) for v in q]
            composed = np.asarray([int(p[j]) % len(p) for j in qi], dtype=p.dtype)
            # the composed permutation is stored under the first op's perm constant when only that
            # op reads it; otherwise the pair is fused only if the composition is the second's perm
            if len(consumers.get(first.inputs[1], ())) == 1:
                perm_id = first.inputs[1]
            elif np.array_equal(composed, q):
                perm_id = op.inputs[1]
            else:
                continue
            constants = dict(constants)
            constants[perm_id] = composed
            ops[k] = replace(op, inputs=(first.inputs[0], perm_id) + tuple(op.inputs[2:]))
        else:
            ops[k] = replace(op, inputs=(first.inputs[0],) + tuple(op.inputs[1:]))
        # a later op of the chain finds this one through producers of its input: point it here
        dropped.add(src)
        changed = True
    if not changed:
        return graph
    return graph.with_operators([o for j, o in enumerate(ops) if j not in dropped], constants)


def fuse_reshape_into_fc(graph: Graph, shapes: Mapping[int, Tuple[int, ...]]) -> Graph:
    """shapes: tensor shapes of the plan's run (the reshape's output shape is often dynamic in the file)."""
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    dropped = set()
    for k, op in enumerate(ops):
        if op.op != "FULLY_CONNECTED" or op.options.get("keep_num_dims", False) or not op.inputs:
            continue
        src = producers.get(op.inputs[0]) if op.inputs[0] >= 0 else None
        if src is None or ops[src].op != "RESHAPE" or not graph.is_private(op.inputs[0], consumers):
            continue
        w = graph.constants.get(op.inputs[1]) if len(op.inputs) > 1 else None
        mid = shapes.get(op.inputs[0])
        if w is None or w.ndim != 2 or mid is None or len(mid) != 2 or mid[1] != w.shape[1]:
            continue
        if ops[src].inputs[0] < 0:
            continue
        ops[k] = replace(op, inputs=(ops[src].inputs[0],) + tuple(op.inputs[1:]))
        dropped.add(src)
    if not dropped:
        return graph
    return graph.with_operators([o for j, o in enumerate(ops) if j not in dropped])


def drop_identity_reshapes(graph: Graph, shapes: Mapping[int, Tuple[int, ...]]) -> Graph:
    """shapes: tensor shapes of the plan's run. A RESHAPE whose output is a graph output stays."""
    rename = {}
    for op in graph.operators:
        if op.op != "RESHAPE" or not op.inputs or op.inputs[0] < 0 or len(op.outputs) != 1:
            continue
        x, y = op.inputs[0], op.outputs[0]
        if y in graph.outputs or shapes.get(x) is None or shapes.get(x) != shapes.get(y):
            continue
        tx, ty = graph.tensors[x], graph.tensors[y]
        if tx.dtype != ty.dtype or tx.quantization != ty.quantization:
            continue
        rename[y] = rename.get(x, x)
    if not rename:
        return graph
    ops = []
    for op in graph.operators:
        if op.op == "RESHAPE" and op.outputs and op.outputs[0] in rename:
            continue
        if any(i in rename for i in op.inputs):
            op = replace(op, inputs=tuple(rename.get(i, i) for i in op.inputs))
        ops.append(op)
    return graph.with_operators(ops)

"""GATHER of SELECT(i < 0, i + N, i) becomes EDGEWISE_GATHER, which wraps negative indices itself.

Converters spell Python-style negative indices (tf.gather on an embedding table, say) as

    c = LESS(i, 0)    j = ADD(i, N)    k = SELECT_V2(c, j, i)    y = GATHER(x, k, axis)

with N = x.shape[axis]. NumPy's integer indexing wraps an index in [-N, 0) to i + N the same way
and raises for any index outside [-N, N), exactly the indices for which k falls outside GATHER's
[0, N) (for i >= 0 the select keeps i, so the int32 sum i + N, even if it wraps, is never read).
So EDGEWISE_GATHER(x, i) with GATHER's options gives GATHER's array, or its error, in one step
instead of four. The constants must be those scalars, N must be fixed by x's static shape, and c, j
and k must have no other reader (`Graph.is_private`).
"""
from __future__ import annotations

from dataclasses import replace

from ..graph import Graph

OP = "EDGEWISE_GATHER"  # inputs: params, indices (negative ones wrap once); GATHER's options


def _scalar(graph: Graph, t: int):
    v = graph.constants.get(t)
    return int(v.reshape(-1)[0]) if v is not None and v.size == 1 and v.dtype.kind == "i" else None


def fuse_gather_wrap(graph: Graph) -> Graph:
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    tensors = graph.tensors
    fused = {}

    def producer(t: int, name: str):
        k = producers.get(t)
        return (k, ops[k]) if k is not None and ops[k].op == name and graph.is_private(t, consumers) else (None, None)

    for k_g, gather in enumerate(ops):
        if gather.op != "GATHER" or len(gather.inputs) != 2 or gather.options.get("batch_dims", 0) != 0:
            continue
        x, idx = gather.inputs
        sig = tensors[x].shape_signature
        axis = int(gather.options.get("axis", 0))
        if not sig or not -len(sig) <= axis < len(sig) or sig[axis] < 0:
            continue
        k_s, sel = producer(idx, "SELECT_V2")
        if sel is None or len(sel.inputs) != 3:
            continue
        cond, wrapped, i = sel.inputs
        k_l, less = producer(cond, "LESS")
        k_a, add = producer(wrapped, "ADD")
        if less is None or add is None or add.options.get("fused_activation_function", "NONE") != "NONE":
            continue
        if less.inputs[0] != i or _scalar(graph, less.inputs[1]) != 0 or tensors[i].dtype not in ("int32", "int64"):
            continue
        if i not in add.inputs or _scalar(graph, add.inputs[1 - add.inputs.index(i)]) != sig[axis]:
            continue
        if any(k in fused for k in (k_l, k_a, k_s)):
            continue
        fused[k_l] = fused[k_a] = fused[k_s] = None
        fused[k_g] = replace(gather, op=OP, opcode_index=-1, custom_code=None, inputs=(x, i))
    if not fused:
        return graph
    out = [fused.get(k, op) if k in fused else op for k, op in enumerate(ops)]
    return graph.with_operators([op for op in out if op is not None])

"""An int8 -> int8 chain of elementwise ops becomes one table lookup (a quantize/dequantize fusion).

Quantized graphs hold chains such as DEQUANTIZE -> NEG -> QUANTIZE (the converter's float island
for a negation in a layer norm), or an int8 op followed by a requantizing QUANTIZE. Each element of
the chain's output depends only on the same element of its int8 input, of which there are 256
values, and on the element's position (LiteRT's vector loops and scalar tails round differently,
see ops/vector_paths.py). So for a plan with fixed shapes, the chain *is* a table
T[position, byte of x], filled at plan time by running the chain's own kernels on the 256 constant
inputs of that shape: the fused lookup equals the chain bit for bit. When every position has the
same row, one 256-entry row is kept.

An op belongs to a chain when it is elementwise in one non-constant input (its other inputs are
constants, its output has that input's shape) and the tensor between two chain ops has no other
reader (`Graph.is_private`). Tables are bounded by MAX_TABLE_BYTES (256 bytes per element).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, List, Mapping, Sequence, Tuple

import numpy as np

from ..graph import Graph, add_constant
from ..model import Operator

OP = "EDGEWISE_INT8_TABLE"  # the fused op's name: not a TFLite builtin, never in a file
ELEMENTWISE = frozenset((
    "DEQUANTIZE", "QUANTIZE", "NEG", "ABS", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "TANH", "LOGISTIC",
    "EXP", "LOG", "GELU", "HARD_SWISH", "RSQRT", "SQRT", "SQUARE", "ELU", "ADD", "SUB", "MUL", "DIV", "MINIMUM",
    "MAXIMUM", "SQUARED_DIFFERENCE", "POW",
))
MAX_TABLE_BYTES = 1 << 22
VALUES = np.arange(256, dtype=np.uint8).view(np.int8)


def _varying_input(op: Operator, graph: Graph) -> int:
    """The op's one non-constant input, or -1."""
    varying = [i for i in op.inputs if i >= 0 and i not in graph.constants]
    return varying[0] if len(varying) == 1 else -1


def fuse_int8_chains(graph: Graph, shapes: Mapping[int, Tuple[int, ...]],
                     run: Callable[[Operator, Sequence[np.ndarray]], Sequence[np.ndarray]]) -> Graph:
    """shapes: tensor shapes of the plan's run; run(op, inputs) -> outputs with the op's kernel."""
    ops = list(graph.operators)
    consumers = graph.consumers()
    producers = graph.producers()
    tensors = graph.tensors

    def link(k: int) -> bool:
        op = ops[k]
        if op.op not in ELEMENTWISE or len(op.outputs) != 1:
            return False
        x = _varying_input(op, graph)
        return x >= 0 and x in shapes and shapes.get(op.outputs[0]) == shapes[x]

    chains: List[List[int]] = []
    in_chain = set()
    for k in range(len(ops)):
        if k in in_chain or not link(k):
            continue
        x = _varying_input(ops[k], graph)
        src = producers.get(x)
        if src is not None and src in in_chain:
            continue
        if tensors[x].dtype != "int8":
            continue
        chain = [k]
        while True:
            out = ops[chain[-1]].outputs[0]
            nxt = consumers.get(out, [])
            if not graph.is_private(out, consumers) or not link(nxt[0]) or _varying_input(ops[nxt[0]], graph) != out:
                break
            chain.append(nxt[0])
        # keep the longest prefix that ends on an int8 tensor
        while chain and tensors[ops[chain[-1]].outputs[0]].dtype != "int8":
            chain.pop()
        if len(chain) >= 2:
            chains.append(chain)
            in_chain.update(chain)
    if not chains:
        return graph
    fused = {}
    for chain in chains:
        first, last = ops[chain[0]], ops[chain[-1]]
        x = _varying_input(first, graph)
        shape = shapes[x]
        size = int(np.prod(shape, dtype=np.int64))
        if size * 256 > MAX_TABLE_BYTES:
            continue
        rows = []
        for v in VALUES:
            t = np.full(shape, v, np.int8)
            for k in chain:
                op = ops[k]
                args = [t if i == _varying_input(op, graph) else (graph.constants.get(i) if i >= 0 else None)
                        for i in op.inputs]
                t = np.asarray(run(op, args)[0])
            rows.append(t.astype(np.int8).reshape(-1))
        table = np.stack(rows, axis=1)  # (size, 256): position, byte
        if (table == table[:1]).all():
            table = table[:1]
        graph, tid = add_constant(graph, f"{tensors[last.outputs[0]].name}/int8_table", table)
        fused[chain[-1]] = replace(last, op=OP, opcode_index=-1, custom_code=None, inputs=(x, tid),
                                   options_type="", options={})
        for k in chain[:-1]:
            fused[k] = None
    out = [fused.get(k, op) for k, op in enumerate(ops)]
    return graph.with_operators([op for op in out if op is not None])

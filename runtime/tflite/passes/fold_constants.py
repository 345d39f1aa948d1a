"""Constant folding: an operator whose inputs are all known at load is evaluated once, at load.

Typical cases: DENSIFY of sparse weights and DEQUANTIZE of float16 weights (so the consumer sees
constant weights and prepares its layout once), and, after `fold_shapes`, the shape arithmetic
(STRIDED_SLICE / PACK / REDUCE_PROD of a SHAPE) a converter emits for a dynamic batch.

`evaluate(op, constants)` runs the op's own kernel on the constant inputs: the folded value is the
one invoke would have computed, bit for bit.
"""
from __future__ import annotations

from typing import Callable, Dict, Sequence

import numpy as np

from ..graph import Graph
from ..model import Operator


def fold_constants(graph: Graph, evaluate: Callable[[Operator, Dict[int, np.ndarray]], Sequence[np.ndarray]]) -> Graph:
    constants = dict(graph.constants)
    kept = []
    for op in graph.operators:
        ins = [i for i in op.inputs if i >= 0]
        if not ins or not all(i in constants for i in ins):
            kept.append(op)
            continue
        for i, r in zip(op.outputs, evaluate(op, constants)):
            want = np.dtype(graph.tensors[i].dtype)
            r = np.asarray(r)  # a kernel may return a NumPy scalar
            constants[i] = r if r.dtype == want else r.astype(want)
    if len(kept) == len(graph.operators):
        return graph
    return graph.with_operators(kept, constants)

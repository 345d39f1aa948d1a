"""The graph the interpreter's passes transform: a subgraph's operators over its tensors, plus the
tensor values known at load.

`Graph` is immutable; a pass (tflite/passes/) is a function `Graph -> Graph` that returns a new
operator list (new `Operator` objects built with `dataclasses.replace`, keeping the original
`index` so that errors still name the operator of the file) and, when it folds something, a larger
constant map. Tensors are never added or changed: a fused operator reads and writes tensors that
already exist in the file, so their names, dtypes and quantization stay what the file declares.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Mapping, Tuple

import numpy as np

from .model import Operator, Tensor


@dataclass(frozen=True)
class Graph:
    tensors: Tuple[Tensor, ...]
    operators: Tuple[Operator, ...]
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]
    constants: Mapping[int, np.ndarray]  # tensor index -> value (dense, in the tensor's dtype)

    def consumers(self) -> Dict[int, List[int]]:
        """Tensor index -> positions in `operators` of the ops reading it (once per op)."""
        out: Dict[int, List[int]] = {}
        for k, op in enumerate(self.operators):
            for i in set(op.inputs):
                if i >= 0:
                    out.setdefault(i, []).append(k)
        return out

    def producers(self) -> Dict[int, int]:
        """Tensor index -> position in `operators` of the op writing it."""
        return {i: k for k, op in enumerate(self.operators) for i in op.outputs}

    def is_private(self, tensor: int, consumers: Dict[int, List[int]]) -> bool:
        """True when exactly one op reads `tensor` and it is not a graph output: fusing its producer
        into that reader loses no value anyone else can see."""
        return len(consumers.get(tensor, ())) == 1 and tensor not in self.outputs and tensor not in self.constants

    def with_operators(self, operators, constants=None) -> "Graph":
        return replace(self, operators=tuple(operators),
                       constants=self.constants if constants is None else constants)


def add_constant(graph: Graph, name: str, value: np.ndarray) -> "Tuple[Graph, int]":
    """A new constant tensor (a table a pass computed) appended to the graph: (graph, its index)."""
    index = len(graph.tensors)
    value = np.ascontiguousarray(value)
    value.flags.writeable = False
    t = Tensor(subgraph=graph.tensors[0].subgraph if graph.tensors else 0, index=index, name=name,
               shape=tuple(value.shape), shape_signature=tuple(value.shape), dtype=value.dtype.name,
               type_name=value.dtype.name.upper(), buffer=-1, data=value, quantization=None, sparsity=None)
    constants = dict(graph.constants)
    constants[index] = value
    return replace(graph, tensors=graph.tensors + (t,), constants=constants), index

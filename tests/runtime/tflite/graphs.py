"""Hand-built TFLite graphs for the pass and plan tests: the parsed-model objects the reader would
produce, without a converter, so each test states exactly the pattern a pass must (not) rewrite."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime.tflite import Operator, QuantParams, Subgraph, Tensor, TFLiteModel
from edgewise.runtime.tflite.graph import Graph


class Builder:
    def __init__(self):
        self.tensors: List[Tensor] = []
        self.ops: List[Operator] = []

    def tensor(self, name: str, shape, dtype: str = "float32", value: Optional[np.ndarray] = None,
               scale: Optional[float] = None, zero_point: int = 0, batch_dynamic: bool = False) -> int:
        i = len(self.tensors)
        quant = None if scale is None else QuantParams((float(scale),), (int(zero_point),))
        data = None if value is None else np.ascontiguousarray(np.asarray(value, dtype)).reshape(-1)
        sig = tuple(shape) if not batch_dynamic else (-1,) + tuple(shape[1:])
        self.tensors.append(Tensor(0, i, name, tuple(shape), sig, dtype, dtype.upper(), 0, data, quant, None))
        return i

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int], **options) -> int:
        self.ops.append(Operator(0, len(self.ops), 0, name, None, 1, tuple(inputs), tuple(outputs), (),
                                 f"{name}Options", options))
        return len(self.ops) - 1

    def model(self, inputs: Sequence[int], outputs: Sequence[int]) -> TFLiteModel:
        sg = Subgraph(0, "main", tuple(self.tensors), tuple(self.ops), tuple(inputs), tuple(outputs))
        return TFLiteModel("<test>", 3, "", (), (sg,), (), (), 0)

    def graph(self, inputs: Sequence[int], outputs: Sequence[int]) -> Graph:
        constants: Dict[int, np.ndarray] = {t.index: t.dense_value() for t in self.tensors if t.is_constant}
        return Graph(tuple(self.tensors), tuple(self.ops), tuple(inputs), tuple(outputs), constants)


def op_names(graph: Graph) -> Tuple[str, ...]:
    return tuple(op.op for op in graph.operators)

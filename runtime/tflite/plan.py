"""The prepared execution plan: what `Interpreter.invoke` walks for one set of input shapes.

Everything that does not depend on the input values is resolved here, once: each remaining op
becomes a step, a closure over its kernel (built at load with its weights layout, quantization
parameters and scratch buffers) and the integer slots it reads and writes in a flat list (the
tensor environment, indexed by tensor number, constants pre-filled in a template that each run
copies). A slot is cleared after its last reader, so NumPy can reuse the memory. Output dtype casts
are added only for the ops whose kernel was seen returning another dtype in the run that made the
plan. No dictionary lookups, shape inference or option parsing happen per call.

Slot -1 (the last one, always None) stands for an omitted optional input: a step reads
`env[-1]` where the op's input index is -1.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .graph import Graph


def _step(run: Callable, ins: Tuple[int, ...], outs: Tuple[int, ...], casts: Tuple[Optional[np.dtype], ...],
          free: Tuple[int, ...]) -> Callable:
    """One op as `step(env)`; the common one-output shapes get closures without loops."""
    if len(outs) == 1 and casts[0] is None:
        o = outs[0]
        if len(ins) == 1 and not free:
            a = ins[0]

            def step(env):
                env[o] = run([env[a]])[0]
        elif len(ins) == 1 and free == (ins[0],):
            a = ins[0]

            def step(env):
                env[o] = run([env[a]])[0]
                env[a] = None
        elif len(ins) == 2 and not free:
            a, b = ins

            def step(env):
                env[o] = run([env[a], env[b]])[0]
        elif len(ins) == 2 and free == (ins[0],):
            a, b = ins

            def step(env):
                env[o] = run([env[a], env[b]])[0]
                env[a] = None
        else:
            def step(env):
                env[o] = run([env[i] for i in ins])[0]
                for f in free:
                    env[f] = None
        return step

    def step(env):
        results = run([env[i] for i in ins])
        for i, want, r in zip(outs, casts, results):
            env[i] = r if want is None else r.astype(want)
        for f in free:
            env[f] = None

    return step


class ExecutionPlan:
    """steps: one callable per op of `graph`, in order; run(feeds) -> outputs.

    kernels: op -> run (built at load); casts: op position -> per output, the dtype to cast to or
    None (from the run that made the plan).
    """

    def __init__(self, graph: Graph, kernels: Callable, casts: Dict[int, Tuple[Optional[np.dtype], ...]],
                 memo: Optional[dict] = None):
        """memo: the kernels' per-run dictionary (OpContext.memo), emptied before and after each run."""
        self.graph = graph
        self._memo = {} if memo is None else memo
        self.ops = graph.operators
        n = len(graph.tensors)
        template: List[Optional[np.ndarray]] = [None] * (n + 1)
        for i, v in graph.constants.items():
            template[i] = v
        self._template = template
        keep = set(graph.outputs) | set(graph.constants)
        last: Dict[int, int] = {}
        for k, op in enumerate(self.ops):
            for i in op.inputs:
                if i >= 0:
                    last[i] = k
        self.steps: List[Callable] = []
        for k, op in enumerate(self.ops):
            free = tuple(sorted({i for i in op.inputs if i >= 0 and last.get(i) == k and i not in keep}))
            outs = tuple(op.outputs)
            self.steps.append(_step(kernels(op), tuple(op.inputs), outs, casts.get(k, (None,) * len(outs)), free))
        self._inputs = tuple(graph.inputs)
        self._outputs = tuple(graph.outputs)

    def run(self, feeds: Sequence[np.ndarray], on_error: Callable) -> List[np.ndarray]:
        env = self._template.copy()
        for i, x in zip(self._inputs, feeds):
            env[i] = x
        memo = self._memo
        memo.clear()
        k = 0
        try:
            for k, step in enumerate(self.steps):
                step(env)
        except on_error.errors as e:
            raise on_error(self.ops[k], env, e) from e
        memo.clear()
        return [env[i] for i in self._outputs]

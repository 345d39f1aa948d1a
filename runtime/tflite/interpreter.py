"""Run a parsed TFLite model's main subgraph with NumPy kernels.

Construction does all the checking and all the input-independent work: every operator must have a
kernel that accepts its dtypes and options (else UnsupportedOpError before anything runs), constants are
densified once, ops whose inputs are all constant are evaluated once (constant folding), and each kernel
precomputes its weights layout and requantization parameters. `invoke`
then only walks the op list, freeing each intermediate after its last reader.

Sparse plans: FULLY_CONNECTED and non-grouped CONV_2D weights that contain zeros get a matmul plan
from runtime/sparse (dense, or a sparse layout when one measured faster on this machine);
`Interpreter.plans` lists them as LayerPlans. `sparse=False`, or the environment variable
EDGEWISE_SPARSE=0 when `sparse` is None, keeps every layer on its dense GEMM. Results do not depend
on the choice: int8 accumulators are exact integers either way.

Kernels reuse per-shape scratch buffers (padded inputs) across invokes, so one Interpreter must not
run two invokes at the same time; use one per thread.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import InputError, ModelFormatError
from ..sparse import sparse_enabled
from ..spec import Quantization, TensorSpec
from . import schema
from .model import Tensor, TFLiteModel
from .ops import KERNELS
from .ops.context import LayerPlan, OpContext
from .validate import validate


# What a kernel raises when the file's shapes, indices or constants are inconsistent with its op:
# reported as ModelFormatError naming the operator (with the original exception chained), never
# passed through as a bare ValueError. MemoryError is not among them: it propagates.
INCONSISTENT = (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError)
NUMPY_DTYPES = frozenset(name for _, name in schema.TENSOR_TYPES if name)


def tensor_spec(t: Tensor) -> TensorSpec:
    """The TensorSpec LiteRT's get_input_details would describe: dynamic dims (-1) as None."""
    quant = None
    q = t.quantization
    if q is not None and q.scale:
        quant = Quantization(q.scale, q.zero_point, q.quantized_dimension if q.per_channel else None)
    return TensorSpec(t.name, tuple(None if d < 0 else int(d) for d in t.shape_signature), t.dtype, quant)


class Interpreter:
    """inputs/outputs: TensorSpecs in subgraph order; invoke(list) -> list; invoke_all(list) -> dict;
    plans: the matmul plan chosen for each planned layer (see the module docstring)."""

    def __init__(self, model: TFLiteModel, source: str, sparse: Optional[bool] = None, bounds=None):
        """bounds: the model's validate() result when the caller has it (load() does), else validated here."""
        self.source = source
        self.bounds = bounds if bounds is not None else validate(model, source)
        self.plans: List[LayerPlan] = []
        plans = self.plans if sparse_enabled(sparse) else None
        self.model = model
        sg = model.main
        self._sg = sg
        tensors = sg.tensors
        self.inputs: List[TensorSpec] = [tensor_spec(tensors[i]) for i in sg.inputs]
        self.outputs: List[TensorSpec] = [tensor_spec(tensors[i]) for i in sg.outputs]
        self.resizable_batch = bool(sg.inputs) and all(
            len(tensors[i].shape_signature) > 0 and tensors[i].shape_signature[0] == -1 for i in sg.inputs
        )
        self._constants: Dict[int, np.ndarray] = {}
        used = {i for op in sg.operators for i in op.inputs if i >= 0} | set(sg.outputs)
        for i in sorted(used):
            if tensors[i].is_constant and i not in sg.inputs and tensors[i].dtype in NUMPY_DTYPES:
                self._constants[i] = tensors[i].dense_value()
        available = set(self._constants) | set(sg.inputs)
        self._folded = set()
        self._steps = []
        for op in sg.operators:
            ctx = OpContext(op, tensors, self._constants, source, plans)
            builder = KERNELS.get(op.op)
            if builder is None:
                detail = f"custom op {op.custom_code!r}" if op.op == "CUSTOM" else "no NumPy kernel for this op"
                raise ctx.unsupported(detail)
            for i in list(op.outputs) + [i for i in op.inputs if i >= 0]:
                if tensors[i].dtype not in NUMPY_DTYPES:
                    raise ctx.unsupported(f"tensor {tensors[i].name!r} has type {tensors[i].type_name}")
            for i in op.inputs:
                if i >= 0 and i not in available:
                    raise ModelFormatError(
                        source, f"operator {op.index} ({op.op}) reads {tensors[i].describe()} before any op writes it"
                    )
            available.update(op.outputs)
            try:
                run = builder(ctx)
            except INCONSISTENT as e:
                raise ModelFormatError(
                    source, f"operator {op.index} ({op.display_name}, node {ctx.node!r}) does not fit its kernel: "
                            f"{type(e).__name__}: {e}"
                ) from e
            ins = [i for i in op.inputs if i >= 0]
            if ins and all(i in self._constants for i in ins):
                # Constant folding: e.g. DENSIFY of sparse weights, DEQUANTIZE of float16 weights, so
                # that the consumer sees constant weights and can prepare them once.
                args = [self._constants.get(i) if i >= 0 else None for i in op.inputs]
                for i, r in zip(op.outputs, self._call(op, run, args)):
                    self._constants[i] = r if r.dtype == tensors[i].dtype else r.astype(tensors[i].dtype)
                    self._folded.add(i)
                continue
            self._steps.append((op, run))
        for i in sg.outputs:
            if i not in available:
                raise ModelFormatError(source, f"output {tensors[i].describe()} is never computed")
        # Last reader of each intermediate, so invoke() can drop it early.
        last: Dict[int, int] = {}
        for k, (op, _) in enumerate(self._steps):
            for i in op.inputs:
                last[i] = k
        keep = set(sg.outputs) | set(self._constants)
        self._free_after = [[i for i in set(op.inputs) if i >= 0 and last.get(i) == k and i not in keep]
                            for k, (op, _) in enumerate(self._steps)]
        # What invoke walks: the op, its kernel, input ids, (output id, NumPy dtype), ids to free.
        self._plan = [(op, run, tuple(op.inputs), tuple((i, np.dtype(tensors[i].dtype)) for i in op.outputs), free)
                      for (op, run), free in zip(self._steps, self._free_after)]

    def _check_feeds(self, feeds) -> List[np.ndarray]:
        if len(feeds) != len(self.inputs):
            raise InputError(f"{self.source}: got {len(feeds)} arrays for {len(self.inputs)} inputs")
        out = []
        for spec, x in zip(self.inputs, feeds):
            x = np.asarray(x)
            if x.dtype != spec.np_dtype:
                raise InputError(f"{self.source}: input {spec.name!r} expects {spec.dtype}, got {x.dtype}")
            if x.ndim != len(spec.shape) or any(d is not None and d != s and not (k == 0 and self.resizable_batch)
                                                 for k, (d, s) in enumerate(zip(spec.shape, x.shape))):
                raise InputError(f"{self.source}: input {spec.name!r} expects shape {spec.shape}, got {x.shape}")
            out.append(x)
        return out

    def _run(self, feeds, keep_all: bool) -> Dict[int, np.ndarray]:
        env: Dict[int, Optional[np.ndarray]] = dict(self._constants)
        for i, x in zip(self._sg.inputs, self._check_feeds(feeds)):
            env[i] = x
        for op, run, ins, outs, free in self._plan:
            results = self._call(op, run, [env[i] if i >= 0 else None for i in ins])
            for (i, want), r in zip(outs, results):
                env[i] = r if r.dtype == want else r.astype(want)
            if not keep_all:
                for i in free:
                    del env[i]
        return env

    def _call(self, op, run, args) -> Tuple[np.ndarray, ...]:
        try:
            results = tuple(run(args))
        except INCONSISTENT as e:
            shapes = ", ".join("-" if a is None else f"{a.dtype}{list(a.shape)}" for a in args)
            raise ModelFormatError(
                self.source, f"operator {op.index} ({op.display_name}) failed on inputs ({shapes}): "
                             f"{type(e).__name__}: {e}"
            ) from e
        if len(results) != len(op.outputs):
            raise ModelFormatError(
                self.source, f"operator {op.index} ({op.display_name}) declares {len(op.outputs)} outputs, "
                             f"its kernel produced {len(results)}"
            )
        return results

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        env = self._run(feeds, keep_all=False)
        return [env[i] for i in self._sg.outputs]

    def invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        """Every tensor the graph computes (inputs and intermediates included), by tensor name."""
        env = self._run(feeds, keep_all=True)
        tensors = self._sg.tensors
        return {tensors[i].name: v for i, v in env.items() if i not in self._constants or i in self._folded}

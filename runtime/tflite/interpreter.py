"""Run a parsed TFLite model's main subgraph with NumPy kernels.

Construction does all the checking and all the input-independent work: every operator must have a
kernel that accepts its dtypes and options (else UnsupportedOpError before anything runs), constants
are densified once, and the graph goes through the passes of tflite/passes/ (graph -> new graph):
constant folding, then the fusions (consecutive reshapes/transposes, pads into convolutions,
activations into the producer's output stage, and the others of passes.FUSIONS). Each remaining op's
kernel is built once (weights layout, requantization parameters, lookup tables, scratch buffers).

Then a prepared execution plan (plan.py) is made per set of input shapes: one run records every
tensor's shape, shape folding turns the shape arithmetic of a dynamic batch into constants, int8
elementwise chains become position tables, and what is left is a flat list of pre-bound steps over
integer slots. The plan for the file's declared shapes (batch 1 where it is dynamic) is made at
load on zeros; a call with other shapes makes and keeps one more (up to MAX_PLANS). `invoke` walks
the plan: no dictionary lookups, shape inference or option parsing per call. `invoke_all`
(keep_intermediates) runs the file's graph op by op, unfused, so every tensor the file names exists;
its results are the plan's, bit for bit (the passes are exact: see each pass's docstring).

Sparse plans: FULLY_CONNECTED and non-grouped CONV_2D weights that contain zeros get a matmul plan
from runtime/sparse (dense, or a sparse layout when one measured faster on this machine);
`Interpreter.plans` lists them as LayerPlans. `sparse=False`, or the environment variable
EDGEWISE_SPARSE=0 when `sparse` is None, keeps every layer on its dense GEMM. Results do not depend
on the choice: int8 accumulators are exact integers either way.

Kernels reuse per-shape scratch buffers (padded inputs) across invokes, so one Interpreter must not
run two invokes at the same time; use one per thread.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import EdgewiseRuntimeError, InputError, ModelFormatError
from ..sparse import sparse_enabled
from ..spec import Quantization, TensorSpec
from . import passes, schema
from .graph import Graph
from .model import Operator, Tensor, TFLiteModel
from .ops import FUSED_KERNELS, KERNELS
from .ops.context import LayerPlan, OpContext
from .validate import validate
from .passes.fold_constants import fold_constants
from .passes.fold_shapes import fold_shapes
from .passes.fuse_int8_chains import fuse_int8_chains
from .passes.fuse_reshapes import drop_identity_reshapes, fuse_reshape_into_fc
from .plan import ExecutionPlan


# What a kernel raises when the file's shapes, indices or constants are inconsistent with its op:
# reported as ModelFormatError naming the operator (with the original exception chained), never
# passed through as a bare ValueError. MemoryError is not among them: it propagates.
INCONSISTENT = (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError)
NUMPY_DTYPES = frozenset(name for _, name in schema.TENSOR_TYPES if name)
PROBE_MAX_ELEMENTS = 1 << 22  # input elements up to which the load-time plan is made on zeros


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

    MAX_PLANS = 8  # execution plans kept for distinct input shapes (oldest dropped first)

    def __init__(self, model: TFLiteModel, source: str, sparse: Optional[bool] = None,
                 optimize: Optional[Sequence[Callable[[Graph], Graph]]] = None, bounds=None):
        """optimize: the graph passes to apply (default `passes.FUSIONS`; () runs the file's graph as is);
        bounds: the model's validate() result when the caller has it (load() does), else validated here."""
        self.source = source
        self.bounds = bounds if bounds is not None else validate(model, source)
        self.plans: List[LayerPlan] = []
        self._layer_plans = self.plans if sparse_enabled(sparse) else None
        self.model = model
        sg = model.main
        self._sg = sg
        tensors = sg.tensors
        self.inputs: List[TensorSpec] = [tensor_spec(tensors[i]) for i in sg.inputs]
        self.outputs: List[TensorSpec] = [tensor_spec(tensors[i]) for i in sg.outputs]
        self._in_dtypes = tuple(s.np_dtype for s in self.inputs)
        self.resizable_batch = bool(sg.inputs) and all(
            len(tensors[i].shape_signature) > 0 and tensors[i].shape_signature[0] == -1 for i in sg.inputs
        )
        constants: Dict[int, np.ndarray] = {}
        used = {i for op in sg.operators for i in op.inputs if i >= 0} | set(sg.outputs)
        for i in sorted(used):
            if tensors[i].is_constant and i not in sg.inputs and tensors[i].dtype in NUMPY_DTYPES:
                constants[i] = tensors[i].dense_value()
        available = set(constants) | set(sg.inputs)
        for op in sg.operators:
            ctx = OpContext(op, tensors, constants, source, None)
            if op.op not in KERNELS:
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
        for i in sg.outputs:
            if i not in available:
                raise ModelFormatError(source, f"output {tensors[i].describe()} is never computed")
        self._kernels: Dict[int, Tuple[Operator, Callable]] = {}  # id(op) -> (op, run)
        self._memo: dict = {}  # per-run values shared between kernels (OpContext.memo)
        graph = Graph(tensors, sg.operators, sg.inputs, sg.outputs, constants)
        # Constant folding (e.g. DENSIFY of sparse weights, DEQUANTIZE of float16 weights) comes
        # first, so that the consumers see constant weights and prepare them once.
        graph = fold_constants(graph, self._evaluate)
        for v in graph.constants.values():
            v.flags.writeable = False  # shared by every run: kernels may cache what they derive from them
        # The file's graph, folded: what invoke_all runs, so that every tensor of the file exists.
        self._reference = graph
        self._constants = graph.constants
        self._folded = set(graph.constants) - set(constants)
        for fuse in (passes.FUSIONS if optimize is None else optimize):
            graph = fuse(graph)
        self._optimized = graph
        # Kernels (weights layouts, requantization, tables) are built for the ops invoke runs; an op
        # a fusion replaced gets its own only if invoke_all needs it, so that weights are laid out
        # once, not once per graph.
        kept = {id(op) for op in graph.operators}
        for op in self._reference.operators:
            if id(op) in kept:
                self._kernel(op, graph.constants)
            else:
                self._kernel_check(op)
        for op in graph.operators:
            self._kernel(op, graph.constants)
        self._exec_plans: "OrderedDict[tuple, ExecutionPlan]" = OrderedDict()
        self.probe_error: Optional[str] = None
        # The plan for the shapes a caller passes (dynamic dimensions as 1), made now on zeros when
        # they are modest; otherwise (or when zeros are not a valid input) the first invoke makes it.
        shapes = [tuple(1 if d is None else d for d in spec.shape) for spec in self.inputs]
        if all(d > 0 for s in shapes for d in s) and sum(math.prod(s) for s in shapes) <= PROBE_MAX_ELEMENTS:
            feeds = [np.zeros(s, spec.np_dtype) for s, spec in zip(shapes, self.inputs)]
            try:
                self._plan_for(feeds)
            except EdgewiseRuntimeError as e:
                self.probe_error = str(e)
        else:
            self.probe_error = f"input shapes {shapes} not planned at load"

    # -- load-time work -----------------------------------------------------------------------
    def _kernel(self, op: Operator, constants, tensors=None) -> Callable:
        """The op's kernel, built once (cached by operator object). tensors: those of the graph the
        op belongs to, when a pass added some (default: the file's)."""
        hit = self._kernels.get(id(op))
        if hit is not None:
            return hit[1]
        ctx = OpContext(op, self._sg.tensors if tensors is None else tensors, constants, self.source,
                        self._layer_plans, self._memo)
        try:
            run = (KERNELS.get(op.op) or FUSED_KERNELS[op.op])(ctx)
        except INCONSISTENT as e:
            raise ModelFormatError(
                self.source, f"operator {op.index} ({op.display_name}, node {ctx.node!r}) does not fit its kernel: "
                             f"{type(e).__name__}: {e}"
            ) from e
        self._kernels[id(op)] = (op, run)
        return run

    def _kernel_check(self, op: Operator) -> None:
        """What building the kernel of an op replaced by a fusion would refuse, without keeping it:
        ops without weights are built and dropped; weight-bearing ones (whose fused form was just
        built from the same weights and options) are not built twice."""
        if not any(i >= 0 and i in self._reference.constants and self._reference.constants[i].size > 64
                   for i in op.inputs):
            self._kernel(op, self._reference.constants)
            del self._kernels[id(op)]

    def _evaluate(self, op: Operator, constants) -> Tuple[np.ndarray, ...]:
        run = self._kernel(op, constants)
        return self._call(op, run, [constants.get(i) if i >= 0 else None for i in op.inputs])

    def _plan_for(self, feeds: List[np.ndarray]) -> ExecutionPlan:
        """Make the plan for these input shapes: one run of the optimized graph records every
        tensor's shape (and which kernels need an output cast), then shape folding and constant
        folding specialise the graph to them (passes/fold_shapes.py)."""
        graph = self._optimized
        env, casts = self._run_graph(graph, feeds, keep_all=True)
        shapes = {i: v.shape for i, v in env.items() if v is not None}
        folded = fold_constants(fold_shapes(graph, shapes), self._evaluate)
        for v in folded.constants.values():
            v.flags.writeable = False
        before = {(op.index, op.op): op for op in folded.operators}
        folded = fuse_reshape_into_fc(drop_identity_reshapes(folded, shapes), shapes)
        for op in folded.operators:
            old = before.get((op.index, op.op))
            if old is not None and old is not op and id(op) not in self._kernels:
                # the same layer reading the tensor before a reshape it no longer needs: its kernel
                # (weights layout included) is the one already built, not a second copy
                self._kernels[id(op)] = (op, self._kernels[id(old)][1])
        folded = fuse_int8_chains(folded, shapes, lambda op, args: self._call(op, self._kernels[id(op)][1], args))
        for op in folded.operators:
            self._kernel(op, folded.constants, folded.tensors)
        if folded is not graph:
            position = {id(op): k for k, op in enumerate(graph.operators)}
            casts = {k: casts[position[id(op)]] for k, op in enumerate(folded.operators)
                     if position.get(id(op)) in casts}
        plan = ExecutionPlan(folded, lambda op: self._kernels[id(op)][1], casts, self._memo)
        key = tuple(x.shape for x in feeds)
        self._exec_plans[key] = plan
        while len(self._exec_plans) > self.MAX_PLANS:
            self._exec_plans.popitem(last=False)
        return plan

    # -- per call -----------------------------------------------------------------------------
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

    def _run_graph(self, graph: Graph, feeds, keep_all: bool):
        """The unplanned walk (dict environment, checks on every op): for invoke_all and for
        making plans. Returns (environment, {op position: output casts} for kernels whose dtype
        differs from the file's)."""
        tensors = graph.tensors
        self._memo.clear()
        env: Dict[int, Optional[np.ndarray]] = dict(graph.constants)
        for i, x in zip(graph.inputs, feeds):
            env[i] = x
        casts = {}
        last: Dict[int, int] = {}
        if not keep_all:
            for k, op in enumerate(graph.operators):
                for i in op.inputs:
                    last[i] = k
        keep = set(graph.outputs) | set(graph.constants)
        for k, op in enumerate(graph.operators):
            run = self._kernel(op, graph.constants, tensors)
            results = self._call(op, run, [env[i] if i >= 0 else None for i in op.inputs])
            want = tuple(np.dtype(tensors[i].dtype) for i in op.outputs)
            if any(r.dtype != w for r, w in zip(results, want)):
                casts[k] = tuple(None if r.dtype == w else w for r, w in zip(results, want))
            for i, w, r in zip(op.outputs, want, results):
                env[i] = r if r.dtype == w else r.astype(w)
            if not keep_all:
                for i in set(op.inputs):
                    if i >= 0 and last.get(i) == k and i not in keep:
                        del env[i]
        self._memo.clear()
        return env, casts

    def _call(self, op, run, args) -> Tuple[np.ndarray, ...]:
        try:
            results = tuple(run(args))
        except INCONSISTENT as e:
            raise self._failure(op, args, e) from e
        if len(results) != len(op.outputs):
            raise ModelFormatError(
                self.source, f"operator {op.index} ({op.display_name}) declares {len(op.outputs)} outputs, "
                             f"its kernel produced {len(results)}"
            )
        return results

    def _failure(self, op, args, e) -> ModelFormatError:
        shapes = ", ".join("-" if a is None else f"{a.dtype}{list(a.shape)}" for a in args)
        return ModelFormatError(
            self.source, f"operator {op.index} ({op.display_name}) failed on inputs ({shapes}): "
                         f"{type(e).__name__}: {e}"
        )

    def _plan_failure(self, op, env, e) -> ModelFormatError:
        return self._failure(op, [env[i] if i >= 0 else None for i in op.inputs], e)

    _plan_failure.errors = INCONSISTENT

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        plan = self._planned(feeds)
        if plan is not None:
            return plan.run(feeds, self._plan_failure)
        feeds = self._check_feeds(feeds)
        plan = self._exec_plans.get(tuple(x.shape for x in feeds))
        if plan is None:
            plan = self._plan_for(feeds)
        return plan.run(feeds, self._plan_failure)

    def fast_path(self, feeds: List[np.ndarray]) -> Optional[Callable]:
        """run(feeds) -> outputs for arrays of these shapes and dtypes, once planned: the plan's own
        walk, without invoke's lookups (the caller has checked the signature)."""
        plan = self._planned(feeds)
        if plan is None:
            return None
        failure = self._plan_failure
        return lambda fs: plan.run(fs, failure)

    def _planned(self, feeds) -> Optional[ExecutionPlan]:
        """The plan for arrays of the input dtypes whose shapes already have one (a plan exists only
        for shapes _check_feeds accepted once), else None."""
        if len(feeds) != len(self._in_dtypes) or not all(type(x) is np.ndarray for x in feeds):
            return None
        plan = self._exec_plans.get(tuple([x.shape for x in feeds]))
        if plan is None or tuple([x.dtype for x in feeds]) != self._in_dtypes:
            return None
        return plan

    def invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        """Every tensor the file's graph computes (inputs and intermediates included), by tensor
        name: runs the graph as the file has it (constants folded, no fusion), op by op."""
        env, _ = self._run_graph(self._reference, self._check_feeds(feeds), keep_all=True)
        tensors = self._sg.tensors
        return {tensors[i].name: v for i, v in env.items() if i not in self._constants or i in self._folded}

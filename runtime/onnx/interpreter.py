"""Run an OnnxModel with NumPy kernels.

At construction, before anything runs: every node is matched to a kernel for its (domain,
op_type, opset) and its attributes are checked against the kernel's signature (else
UnsupportedOpError), the nodes are put in topological order once, and nodes that depend only on
initializers are evaluated (constant folding: weight DequantizeLinear, ConstantOfShape, shape
arithmetic), and a constant per-channel scale and shift after a Conv is folded into its weights
(fold_affine.py). Then nodes whose op has a `prepare` (registry.py, ops/planned.py) and a weight known
at load get a weight plan: a sparse layout when that is faster here, an exact integer product in
the cheapest type; `weight_plans` lists them. The plans' batch comes from the tensor shapes of one
probe run on zeros (inputs' symbolic dimensions set to 1), made only if a plan needs it.
`invoke` then only walks the remaining steps, prepared at load as integer slots of a flat
environment list (`_SlotPlan`: no name lookups per call); `invoke_all` runs the same steps by name.
"""
from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import EdgewiseRuntimeError, ModelFormatError, UnsupportedOpError
from ..spec import TensorSpec
from . import registry
from .fold_affine import fold_conv_scale_shift
from .model import Graph, Node, OnnxModel, ValueInfo
from ..sparse import sparse_enabled
from .ops.planned import PrepareContext, WeightPlan
from .validate import validate

_SPEC_DTYPES = frozenset(("float16", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                          "int64", "uint64", "bool"))
_KERNEL_ERRORS = (ValueError, IndexError, TypeError, ArithmeticError, KeyError, MemoryError)


class _Step:
    __slots__ = ("node", "entry", "kernel", "kwargs")

    def __init__(self, node: Node, entry: registry.OpEntry, kwargs: dict):
        self.node = node
        self.entry = entry
        self.kernel = entry.kernel
        self.kwargs = kwargs


def _signature_check(source: str, node: Node, entry: registry.OpEntry) -> dict:
    params = inspect.signature(entry.kernel).parameters.values()
    keyword = {p.name for p in params if p.kind == p.KEYWORD_ONLY}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
    for name, value in node.attributes.items():
        if name not in keyword:
            raise UnsupportedOpError(source, node.op_type, node.label, f"attribute {name!r} is not supported")
        if isinstance(value, Graph):
            raise UnsupportedOpError(source, node.op_type, node.label, f"graph attribute {name!r} is not supported")
    if not variadic and len(node.inputs) > len(positional):
        raise UnsupportedOpError(
            source, node.op_type, node.label, f"{len(node.inputs)} inputs given, the kernel takes {len(positional)}"
        )
    kwargs = dict(node.attributes)
    if entry.pass_num_outputs and kwargs.get("num_outputs") is None:
        kwargs["num_outputs"] = len(node.outputs)
    return kwargs


def _spec(source: str, v: ValueInfo, what: str) -> TensorSpec:
    t = v.type
    if t.kind != "tensor":
        raise UnsupportedOpError(source, what, v.name, f"{t.kind or 'untyped'} values are not supported, only tensors")
    if t.dtype not in _SPEC_DTYPES:
        raise UnsupportedOpError(source, what, v.name, f"element type {t.dtype or 'undefined'} is not supported")
    return TensorSpec(v.name, tuple(t.shape) if t.shape is not None else (), t.dtype)


def _toposort(source: str, nodes: Sequence[Node], available: set) -> List[Node]:
    """Kahn's algorithm over tensor names; '' is an omitted optional input."""
    producers: Dict[str, Node] = {}
    for n in nodes:
        for o in n.outputs:
            if not o:
                continue
            if o in producers or o in available:
                raise ModelFormatError(source, f"tensor {o!r} is produced twice (node {n.label!r})")
            producers[o] = n
    waiting: Dict[str, List[int]] = {}
    missing = []
    for i, n in enumerate(nodes):
        need = {x for x in n.inputs if x and x not in available}
        for x in need:
            if x not in producers:
                raise ModelFormatError(
                    source, f"node {n.label!r} ({n.op_type}) reads {x!r}, which no node, input or initializer provides"
                )
            waiting.setdefault(x, []).append(i)
        missing.append(len(need))
    ready = [i for i, m in enumerate(missing) if m == 0]
    order: List[Node] = []
    while ready:
        i = ready.pop()
        order.append(nodes[i])
        for o in nodes[i].outputs:
            for j in waiting.pop(o, ()):
                missing[j] -= 1
                if missing[j] == 0:
                    ready.append(j)
    if len(order) != len(nodes):
        stuck = next(n for n, m in zip(nodes, missing) if m)
        raise ModelFormatError(source, f"the graph has a cycle through node {stuck.label!r} ({stuck.op_type})")
    return order


class Interpreter:
    """Runs one ONNX graph. `inputs`/`outputs` are TensorSpecs; `invoke` maps arrays to arrays.

    sparse: allow sparse weight plans; None reads EDGEWISE_SPARSE (edgewise.runtime.sparse.sparse_enabled).
    After construction, `weight_plans` lists (op_type, node, PlanInfo) for every planned node, and
    `probe_error` says why the shape probe failed (then plans use one row), or is None.
    """

    def __init__(self, model: OnnxModel, source: str, sparse: Optional[bool] = None, bounds=None):
        """bounds: the model's validate() result when the caller has it (load() does), else validated here."""
        self.source = source
        self.bounds = bounds if bounds is not None else validate(model, source)
        g = model.graph
        steps = []
        for node in g.nodes:
            version = model.opset_imports.get(node.domain)
            if version is None:
                raise UnsupportedOpError(source, node.op_type, node.label,
                                         f"domain {node.domain!r} is not in the model's opset_import")
            entry = registry.lookup(node.domain, node.op_type, version)
            if entry is None:
                known = registry.versions(node.domain, node.op_type)
                detail = (f"opset {version} is outside the supported ranges "
                          + ", ".join(f"{a}-{b}" for a, b in known)) if known else "no kernel for this op"
                if node.domain:
                    detail += f" (domain {node.domain!r})"
                raise UnsupportedOpError(source, node.op_type, node.label, detail)
            steps.append(_Step(node, entry, _signature_check(source, node, entry)))
        self.inputs: List[TensorSpec] = [_spec(source, v, "graph input") for v in model.inputs]
        self.outputs: List[TensorSpec] = [_spec(source, v, "graph output") for v in g.outputs]
        self.resizable_batch = bool(self.inputs) and all(
            len(s.shape) > 0 and not isinstance(s.shape[0], int) for s in self.inputs
        )
        constants: Dict[str, np.ndarray] = {name: g.initializers[name] for name in g.initializers}
        for name, sparse in g.sparse_initializers.items():
            try:
                constants[name] = sparse.dense()
            except (ValueError, MemoryError) as e:
                raise ModelFormatError(source, f"sparse initializer {name!r}: {e}") from None
        available = set(constants) | {s.name for s in self.inputs}
        by_node = {id(s.node): s for s in steps}
        order = [by_node[id(n)] for n in _toposort(source, [s.node for s in steps], available)]
        produced = available | {o for s in steps for o in s.node.outputs}
        for s in self.outputs:
            if s.name not in produced:
                raise ModelFormatError(source, f"graph output {s.name!r} is not produced by any node or input")
        self._plan: List[_Step] = []
        with np.errstate(all="ignore"):
            for step in order:
                if all(not x or x in constants for x in step.node.inputs):
                    self._run(step, constants)
                else:
                    self._plan.append(step)
        pairs, folded = fold_conv_scale_shift([s.node for s in self._plan], constants,
                                              {s.name for s in self.outputs})
        constants.update(folded)
        origin = {id(s.node): s for s in self._plan}
        self._plan = [origin[id(old)] if new is old else _Step(new, origin[id(old)].entry, origin[id(old)].kwargs)
                      for new, old in pairs]
        self._constants = constants
        self.sparse = sparse_enabled(sparse)
        self.probe_error: Optional[str] = None
        self._shapes: Optional[Dict[str, Tuple[int, ...]]] = None
        self._probed = False
        self.weight_plans: List[WeightPlan] = self._prepare(constants)
        self._release = _last_uses(self._plan, constants, [s.name for s in self.outputs])
        self._slots = _SlotPlan(self._plan, self._release, constants, [s.name for s in self.inputs],
                                [s.name for s in self.outputs])
        self._shape_slots: "OrderedDict[tuple, _SlotPlan]" = OrderedDict()

    def _probe_shapes(self) -> Optional[Dict[str, Tuple[int, ...]]]:
        """Every tensor's shape in one run on zeros (symbolic dims = 1), computed once, on demand."""
        if not self._probed:
            self._probed = True
            feeds = [np.zeros(tuple(d if isinstance(d, int) else 1 for d in s.shape), np.dtype(s.dtype))
                     for s in self.inputs]
            try:
                env = self.invoke_all(feeds)
            except EdgewiseRuntimeError as e:
                self.probe_error = str(e)
            else:
                self._shapes = {name: tuple(v.shape) for name, v in env.items()}
        return self._shapes

    def _prepare(self, constants: Dict[str, np.ndarray]) -> List[WeightPlan]:
        plans: List[WeightPlan] = []
        for step in self._plan:
            node = step.node
            if step.entry.prepare is None or not any(x in constants for x in node.inputs if x):
                continue
            ctx = PrepareContext(self.source, node.label, node.op_type, tuple(node.inputs),
                                 tuple(constants.get(x) if x else None for x in node.inputs), self.sparse,
                                 self._probe_shapes)
            try:
                prepared = step.entry.prepare(ctx, dict(step.kwargs))
            except _KERNEL_ERRORS as e:
                raise EdgewiseRuntimeError(
                    f"{self.source}: preparing node {node.label!r} ({node.op_type}) failed: {type(e).__name__}: {e}"
                ) from e
            if prepared is None:
                continue
            if prepared.run is not None:
                step.kernel, step.kwargs = prepared.run, {}
            if prepared.plan is not None:
                plans.append(WeightPlan(node.op_type, node.label, prepared.plan))
        return plans

    def _run(self, step: _Step, env: Dict[str, np.ndarray]) -> None:
        node = step.node
        args = [env[x] if x else None for x in node.inputs]
        while args and args[-1] is None:
            args.pop()
        try:
            result = step.kernel(*args, **step.kwargs)
        except NotImplementedError as e:
            raise UnsupportedOpError(self.source, node.op_type, node.label, str(e)) from None
        except _KERNEL_ERRORS as e:
            raise EdgewiseRuntimeError(
                f"{self.source}: node {node.label!r} ({node.op_type}) failed: {type(e).__name__}: {e}"
            ) from e
        results: Tuple = result if isinstance(result, tuple) else (result,)
        for i, name in enumerate(node.outputs):
            if not name:
                continue
            if i >= len(results):
                raise UnsupportedOpError(self.source, node.op_type, node.label, f"output #{i} ({name!r}) is not supported")
            env[name] = np.asarray(results[i])

    def _feed(self, feeds: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
        if len(feeds) != len(self.inputs):
            raise EdgewiseRuntimeError(f"{self.source}: got {len(feeds)} arrays for {len(self.inputs)} inputs")
        env = dict(self._constants)
        for spec, x in zip(self.inputs, feeds):
            env[spec.name] = np.asarray(x)
        return env

    def invoke_all(self, feeds: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
        """Every tensor of the graph by name: inputs, initializers, folded constants, intermediates."""
        env = self._feed(feeds)
        with np.errstate(all="ignore"):
            for step in self._plan:
                self._run(step, env)
        return env

    def _slots_for(self, feeds) -> "_SlotPlan":
        """The steps for these input shapes: the load-time plan with the shape arithmetic folded
        (`_specialize`), made once per distinct shape (up to MAX_SHAPE_PLANS, oldest dropped)."""
        key = tuple([np.shape(x) for x in feeds])
        slots = self._shape_slots.get(key)
        if slots is None:
            slots = self._shape_slots[key] = self._specialize(key)
            while len(self._shape_slots) > MAX_SHAPE_PLANS:
                self._shape_slots.popitem(last=False)
        return slots

    def _specialize(self, shapes) -> "_SlotPlan":
        """Fold what the input shapes decide. A Shape / Size node's output depends only on its
        input's shape, which the validator's inference gives for these input shapes (checked equal
        to the shapes the kernels produce: tests/runtime/onnx/test_validate.py); it is computed by the
        node's own kernel on a zero-strided array of that shape, and every later node whose inputs
        are then all constants is evaluated as at load (Gather / Unsqueeze / Concat of a shape,
        Reshape's target). So each folded tensor holds what the run would compute: the remaining
        steps give identical results. Folded tensors larger than MAX_FOLDED_BYTES stay steps (a
        ConstantOfShape would otherwise be held for good)."""
        try:
            inferred = self.bounds.infer(shapes)
        except EdgewiseRuntimeError:
            return self._slots  # the run reports what is wrong with these shapes
        constants = dict(self._constants)
        remaining: List[_Step] = []
        with np.errstate(all="ignore"):
            for step in self._plan:
                node = step.node
                if node.domain in ("", "ai.onnx") and node.op_type in ("Shape", "Size") and node.inputs \
                        and node.inputs[0] not in constants:
                    shape = inferred.get(node.inputs[0])
                    if shape is not None and all(isinstance(d, int) and d >= 0 for d in shape):
                        env = {node.inputs[0]: np.broadcast_to(np.zeros((), np.float32), tuple(shape))}
                        if self._fold(step, env, constants):
                            continue
                elif all(not x or x in constants for x in node.inputs) and \
                        self._fold(step, {x: constants[x] for x in node.inputs if x}, constants):
                    continue
                remaining.append(step)
        if len(remaining) == len(self._plan):
            return self._slots
        names = [s.name for s in self.outputs]
        return _SlotPlan(remaining, _last_uses(remaining, constants, names), constants,
                         [s.name for s in self.inputs], names)

    def _fold(self, step: "_Step", env: Dict[str, np.ndarray], constants: Dict[str, np.ndarray]) -> bool:
        """Run `step` on `env` and keep its outputs as constants; False (nothing kept) when it fails
        or an output is larger than MAX_FOLDED_BYTES."""
        try:
            self._run(step, env)
        except EdgewiseRuntimeError:
            return False
        outs = [o for o in step.node.outputs if o]
        if any(o not in env or env[o].nbytes > MAX_FOLDED_BYTES for o in outs):
            return False
        for o in outs:
            constants[o] = env[o]
        return True

    def fast_path(self, feeds: Sequence[np.ndarray]):
        """run(feeds) -> outputs for arrays of these shapes (the caller has checked the signature)."""
        if len(feeds) != len(self.inputs):
            return None
        slots = self._slots_for(feeds)
        return lambda fs: self._run_slots(slots, fs)

    def invoke(self, feeds: Sequence[np.ndarray]) -> List[np.ndarray]:
        if len(feeds) != len(self.inputs):
            raise EdgewiseRuntimeError(f"{self.source}: got {len(feeds)} arrays for {len(self.inputs)} inputs")
        return self._run_slots(self._slots_for(feeds), feeds)

    def _run_slots(self, slots: "_SlotPlan", feeds) -> List[np.ndarray]:
        env = slots.template.copy()
        for i, x in zip(slots.inputs, feeds):
            env[i] = np.asarray(x)
        k = 0
        try:
            with np.errstate(all="ignore"):
                for k, call in enumerate(slots.calls):
                    call(env)
        except _MissingOutput as e:
            node = slots.plan[k].node
            name = node.outputs[e.args[0]]
            raise UnsupportedOpError(self.source, node.op_type, node.label,
                                     f"output #{e.args[0]} ({name!r}) is not supported") from None
        except NotImplementedError as e:
            node = slots.plan[k].node
            raise UnsupportedOpError(self.source, node.op_type, node.label, str(e)) from None
        except _KERNEL_ERRORS as e:
            node = slots.plan[k].node
            raise EdgewiseRuntimeError(
                f"{self.source}: node {node.label!r} ({node.op_type}) failed: {type(e).__name__}: {e}"
            ) from e
        return [env[i] for i in slots.outputs]


def _call(kernel, kwargs, ins, outs, done):
    """One step as `call(env)`: the kernel on its input slots, its results (a tuple for several
    outputs, else one array) stored in its output slots (-1: unused), then `done` cleared. The
    common shape, one or two inputs, one output and no attributes, gets a closure without loops."""
    if len(outs) == 1 and outs[0] >= 0 and not kwargs and len(ins) in (1, 2):
        o = outs[0]

        def store(env, r):
            if type(r) is tuple:
                if not r:
                    raise _MissingOutput(0)
                r = r[0]
            env[o] = r if type(r) is np.ndarray else np.asarray(r)
            for i in done:
                env[i] = None

        if len(ins) == 1:
            a = ins[0]
            return lambda env: store(env, kernel(env[a]))
        a, b = ins
        return lambda env: store(env, kernel(env[a], env[b]))

    def call(env):
        result = kernel(*[env[i] for i in ins], **kwargs)
        results = result if isinstance(result, tuple) else (result,)
        for j, i in enumerate(outs):
            if i < 0:
                continue
            if j >= len(results):
                raise _MissingOutput(j)
            env[i] = np.asarray(results[j])
        for i in done:
            env[i] = None

    return call


def _last_uses(plan, constants, outputs) -> List[Tuple[str, ...]]:
    """Per step, the tensors no later step reads (graph outputs and constants excepted). `invoke`
    drops them after that step, so NumPy reuses their memory: holding every intermediate until
    the end makes each new tensor fresh pages, whose page faults cost as much as small kernels."""
    keep = set(constants) | set(outputs)
    last: Dict[str, int] = {}
    for i, step in enumerate(plan):
        for x in step.node.inputs:
            if x and x not in keep:
                last[x] = i
        for o in step.node.outputs:
            if o and o not in keep:
                last.setdefault(o, i)
    release: List[List[str]] = [[] for _ in plan]
    for name, i in last.items():
        release[i].append(name)
    return [tuple(r) for r in release]


class _MissingOutput(Exception):
    """A kernel returned fewer outputs than the node names (args: the first missing index)."""


MAX_SHAPE_PLANS = 8  # input shapes whose folded plans are kept
MAX_FOLDED_BYTES = 1 << 16  # a tensor folded per input shape is held with its plan: keep it small


class _SlotPlan:
    """The steps `invoke` walks: per node its kernel, attributes, and the integer slots of its
    inputs and outputs in a flat environment list (constants pre-filled in `template`; the last
    slot is always None and stands for an omitted optional input, -1 an unused output), and the
    slots to clear after it (their last reader). Built once at load: no name lookups per call."""

    def __init__(self, plan, release, constants, inputs, outputs):
        self.plan = list(plan)  # the _Steps, for error messages
        names = {}

        def slot(name: str) -> int:
            if name not in names:
                names[name] = len(names)
            return names[name]

        for n in constants:
            slot(n)
        for n in inputs:
            slot(n)
        self.steps = []
        for step, done in zip(plan, release):
            ins = list(step.node.inputs)
            while ins and not ins[-1]:
                ins.pop()  # trailing omitted inputs are not passed, as _run does
            in_slots = tuple(slot(x) if x else -1 for x in ins)
            outs = tuple(slot(o) if o else -1 for o in step.node.outputs)
            self.steps.append((step.kernel, step.kwargs, in_slots, outs, tuple(slot(n) for n in done)))
        self.calls = [_call(*entry) for entry in self.steps]
        self.inputs = tuple(slot(n) for n in inputs)
        self.outputs = tuple(slot(n) for n in outputs)
        self.template = [None] * (len(names) + 1)
        for n, v in constants.items():
            self.template[names[n]] = v

"""Load-time validation of a parsed ONNX model's geometry and memory, before any backend sees it.

`read_model` has checked the protobuf (sizes, offsets, external data). This pass walks the graph in
dependency order and infers every tensor's shape (shapes.py, shapes_tensor.py) from the inputs'
declared shapes (symbolic dimensions taken as 1, as the interpreter's probe does), the initializers
and the attributes, checking each node's geometry on the way. Small integer tensors known at load
(shape arithmetic: Shape -> Gather -> Concat -> Reshape, Constant, ConstantOfShape) are evaluated
with the node's own kernel, after their size has been bounded, so that Reshape, Expand, Tile, Pad,
Resize and friends get exact shapes. Any tensor, or kernel scratch buffer, larger than the model
justifies (runtime/limits.py) is a ModelFormatError naming the node and the tensor.

A shape the pass cannot know (an op it has no rule for, a size computed from the input's values)
stays unknown, and so does everything downstream of it; the kernels then meet it at run time.
The returned `ShapeBounds` infers again for the shapes actually fed, before the engine runs.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError, ModelFormatError
from ..limits import TensorLimits
from . import registry
from . import shapes_tensor  # noqa: F401  (registers its rules)
from .model import OnnxModel
from ..shape_rules import ShapeError, values_key
from .shapes import RULES, NodeContext

Shape = Tuple[int, ...]
VALUE_ELEMENTS = 1 << 16  # tensors up to this size are evaluated at load when all their inputs are known
MAX_REMEMBERED = 64  # input shapes already checked at run time, skipped when seen again
_RULE_ERRORS = (ValueError, IndexError, TypeError, ArithmeticError, KeyError, AttributeError)
_KERNEL_ERRORS = (ValueError, IndexError, TypeError, ArithmeticError, KeyError, NotImplementedError)


def _itemsize(dtype: Optional[str]) -> int:
    try:
        return np.dtype(dtype).itemsize if dtype else 4
    except TypeError:
        return 4  # bfloat16, float8, int4...: decoded to at most 4 bytes an element


def _scratch_itemsize(dtype: Optional[str]) -> int:
    """Float kernels work in their own type; integer ones (ConvInteger, QLinearConv) may widen to 8 bytes."""
    return _itemsize(dtype) if dtype and dtype.startswith("float") else 8


def _static(shape) -> Optional[Shape]:
    if shape is None:
        return None
    return tuple(d if isinstance(d, int) and d >= 0 else 1 for d in shape)


@functools.lru_cache(maxsize=None)
def _defaults(kernel) -> Dict[str, object]:
    """The kernel's keyword defaults: the spec's attribute defaults (registry.py checks them against onnx.defs)."""
    return {p.name: p.default for p in inspect.signature(kernel).parameters.values()
            if p.kind == p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}


class ShapeBounds:
    """The graph's inferred shapes for its declared inputs; `check_inputs(shapes)` infers again for
    the shapes fed at run time and checks them against the ceiling before the engine allocates."""

    def __init__(self, model: OnnxModel, source: str, limits: TensorLimits):
        self.source = source
        self.limits = limits
        self._model = model
        g = model.graph
        self._dtypes: Dict[str, Optional[str]] = {v.name: v.dtype for v in list(g.inputs) + list(g.value_info)}
        for name in g.initializers:
            self._dtypes[name] = g.initializers.info(name).elem_type
        for name, sp in g.sparse_initializers.items():
            self._dtypes[name] = sp.values.elem_type
            limits.check(source, math.prod(sp.dims) * _itemsize(sp.values.elem_type),
                         f"sparse initializer {name!r} of dims {list(sp.dims)}, densified,")
        self._order = self._dependency_order()
        self._declared = tuple(_static(v.shape) for v in model.inputs)
        self.shapes = self._infer(self._declared, at_run=False)
        self._checked = {(self._declared, None)}

    def infer(self, input_shapes: Sequence[Shape], input_values: Optional[Sequence] = None) -> Dict:
        """Every tensor's shape (tensor name -> shape, None when unknown) for these input shapes, each
        checked against the ceiling."""
        return self._infer_for(tuple(tuple(int(d) for d in s) for s in input_shapes), input_values)

    def check_inputs(self, shapes: Sequence[Shape], values: Optional[Sequence] = None) -> None:
        """values: per input, its array when it is a small integer one (a shape, a count), else None."""
        shapes = tuple(tuple(int(d) for d in s) for s in shapes)
        key = (shapes, values_key(values))
        if key not in self._checked:
            self._infer_for(shapes, values)
            self._checked.add(key)
            if len(self._checked) > MAX_REMEMBERED:  # a server fed ever-new shapes must not grow this set
                self._checked = {key}

    def _infer_for(self, shapes, values=None) -> Dict[str, Optional[Shape]]:
        return self._infer(shapes, at_run=True, input_values=values)

    def _dependency_order(self) -> list:
        """Nodes in an order where each one's inputs come first (Kahn's algorithm); nodes in a cycle or
        reading a tensor nothing provides are left out (the interpreter reports them)."""
        g = self._model.graph
        have = {v.name for v in g.inputs} | set(g.initializers) | set(g.sparse_initializers) | {""}
        waiting: Dict[str, List[int]] = {}
        missing = []
        for i, n in enumerate(g.nodes):
            need = {x for x in n.inputs if x not in have}
            for x in need:
                waiting.setdefault(x, []).append(i)
            missing.append(len(need))
        ready = [i for i, m in enumerate(missing) if m == 0]
        order = []
        while ready:
            i = ready.pop(0)
            order.append(g.nodes[i])
            for o in g.nodes[i].outputs:
                for j in waiting.pop(o, ()):
                    missing[j] -= 1
                    if missing[j] == 0:
                        ready.append(j)
        return order

    def _infer(self, input_shapes: Sequence[Optional[Shape]], at_run: bool,
               input_values: Optional[Sequence] = None) -> Dict[str, Optional[Shape]]:
        model, source = self._model, self.source
        g = model.graph
        shapes: Dict[str, Optional[Shape]] = {}
        values: Dict[str, np.ndarray] = {}
        dtypes = dict(self._dtypes)
        for name in g.initializers:
            shapes[name] = tuple(g.initializers.info(name).dims)
        for name, sp in g.sparse_initializers.items():
            shapes[name] = tuple(sp.dims)
        for v, s in zip(model.inputs, input_shapes):
            shapes[v.name] = s
        for v, x in zip(model.inputs, input_values or ()):
            if x is not None:
                values[v.name] = np.asarray(x)

        def value(name: str) -> Optional[np.ndarray]:
            if name in values:
                return values[name]
            s = shapes.get(name)
            if name in g.initializers and s is not None and math.prod(s) <= VALUE_ELEMENTS:
                values[name] = g.initializers[name]
                return values[name]
            return None

        for node in self._order:
            entry = registry.lookup(node.domain, node.op_type, model.opset_imports.get(node.domain, 0))
            what = f"node {node.label!r} ({node.op_type})"
            in_shapes = [shapes.get(x) if x else None for x in node.inputs]
            in_values = [value(x) if x else None for x in node.inputs]
            if entry is None:
                outs: List[Optional[Shape]] = [None] * len(node.outputs)
                c = None
            else:
                attrs = dict(_defaults(entry.kernel))
                attrs.update(node.attributes)
                c = NodeContext(node, entry.kernel.__name__, attrs, in_shapes, in_values, len(node.outputs))
                rule = RULES.get(node.op_type)
                try:
                    got = rule(c) if rule is not None else None
                except ShapeError as e:
                    raise self._error(node, what, e, at_run) from None
                except _RULE_ERRORS as e:  # an attribute of the wrong type or length, a value of the wrong rank
                    raise self._error(node, what, ShapeError(f"attributes or inputs do not fit the op: "
                                                             f"{type(e).__name__}: {e}"), at_run) from e
                outs = list(got) if got is not None else [None] * len(node.outputs)
                outs = (outs + [None] * len(node.outputs))[:len(node.outputs)]
            out_dtype = _out_dtype(node, c.attrs if c is not None else {}, [dtypes.get(x) for x in node.inputs])
            for k, (name, s) in enumerate(zip(node.outputs, outs)):
                if not name or s is None:
                    continue
                if any(d < 0 for d in s):
                    raise self._error(node, what, ShapeError(f"computed shape {list(s)} of output {name!r} is "
                                                             "negative"), at_run)
                dt = dtypes.get(name) or out_dtype
                self.limits.check(source, math.prod(s) * _itemsize(dt),
                                  f"{what}, output tensor {name!r} of shape {list(s)}", at_run)
            if c is not None:
                itemsize = _scratch_itemsize(dtypes.get(node.inputs[0]) if node.inputs else None)
                for scratch, n in c.scratches:
                    self.limits.check(source, n * itemsize, f"{what}, the {scratch} for output tensor "
                                                            f"{node.outputs[0]!r} ({n} elements)", at_run)
                for k, v in c.out_values.items():
                    if k < len(node.outputs) and node.outputs[k]:
                        values[node.outputs[k]] = v
                if (entry is not None and not c.out_values and all(v is not None for x, v in zip(node.inputs, in_values)
                                                                   if x)
                        and (node.op_type == "Constant" or all(s is not None and math.prod(s) <= VALUE_ELEMENTS
                                                               for s in outs))):
                    outs = self._evaluate(node, entry, c, in_values, outs, values)
            for name, s in zip(node.outputs, outs):
                if name:
                    shapes[name] = s
                    if name in values:
                        dtypes[name] = values[name].dtype.name
        return shapes

    def _evaluate(self, node, entry, c: NodeContext, in_values, outs, values) -> List[Optional[Shape]]:
        """Run the node's kernel on known, bounded inputs; its values then feed later shape rules."""
        kwargs = dict(node.attributes)
        if entry.pass_num_outputs and kwargs.get("num_outputs") is None:
            kwargs["num_outputs"] = len(node.outputs)
        args = list(in_values)
        while args and args[-1] is None:
            args.pop()
        try:
            with np.errstate(all="ignore"):
                result = entry.kernel(*args, **kwargs)
        except _KERNEL_ERRORS:
            return outs  # the interpreter reports the kernel's own error when it folds this node
        results = result if isinstance(result, tuple) else (result,)
        new = list(outs)
        for k, (name, r) in enumerate(zip(node.outputs, results)):
            r = np.asarray(r)
            if name:
                new[k] = tuple(r.shape)
                if r.size <= VALUE_ELEMENTS:
                    values[name] = r
        return new

    def _error(self, node, what: str, e: ShapeError, at_run: bool):
        at = ""
        if e.slot is not None and e.slot < len(node.inputs) and node.inputs[e.slot]:
            at = f", input {e.slot} ({node.inputs[e.slot]!r})"
        elif node.inputs and node.inputs[0]:
            at = f", input {node.inputs[0]!r}"
        if node.outputs and node.outputs[0]:
            at += f", output {node.outputs[0]!r}"
        if at_run:
            return InputError(f"{self.source}: {what}{at}: {e.detail}")
        return ModelFormatError(self.source, f"{what}{at}: {e.detail}")


_INT64_OUT = frozenset(("Shape", "Size", "ArgMax", "ArgMin"))
_BOOL_OUT = frozenset(("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor",
                       "IsNaN", "IsInf"))


def _out_dtype(node, attrs: dict, in_dtypes: List[Optional[str]]) -> Optional[str]:
    """The element type of a node's outputs, as far as the size check needs it."""
    op = node.op_type
    if op in _INT64_OUT:
        return "int64"
    if op in _BOOL_OUT:
        return "bool"
    if op in ("Cast", "ConstantOfShape", "Constant", "QuantizeLinear", "DequantizeLinear"):
        if op == "Cast" and attrs.get("to"):
            from .ops.tensor import numpy_dtype

            try:
                return numpy_dtype(int(attrs["to"])).name
            except (ValueError, KeyError, TypeError, NotImplementedError):
                return None
        if op == "ConstantOfShape":
            v = attrs.get("value")
            return "float32" if v is None else np.asarray(v).dtype.name
        if op == "QuantizeLinear":
            return (in_dtypes[2] if len(in_dtypes) > 2 else None) or "uint8"
        if op == "DequantizeLinear":
            return (in_dtypes[1] if len(in_dtypes) > 1 else None) or "float32"
        return None
    return next((d for d in in_dtypes if d), None)


def _largest_justified(model: OnnxModel) -> int:
    g = model.graph
    best = 0
    for v in model.inputs:
        s = _static(v.shape)
        if s is not None:
            best = max(best, math.prod(s) * _itemsize(v.dtype))
    for name in g.initializers:
        info = g.initializers.info(name)
        best = max(best, math.prod(info.dims) * _itemsize(info.elem_type))
    return best


def validate(model: OnnxModel, source: str, max_tensor_bytes: Optional[int] = None) -> ShapeBounds:
    """Check every node's geometry and every tensor's size; ModelFormatError on the first violation."""
    return ShapeBounds(model, source, TensorLimits.for_model(_largest_justified(model), max_tensor_bytes))

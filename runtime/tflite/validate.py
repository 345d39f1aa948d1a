"""Load-time validation of a parsed TFLite model's geometry and memory, before any backend sees it.

`read_model` has checked the file's structure (offsets, indices, buffer sizes). This pass checks
what the ops would do with it: walking every subgraph in order, it infers each op's output shapes
from its inputs (shapes.py: strides, dilations, filters, axes, paddings, reshape and broadcast
shapes are checked on the way) and refuses, as ModelFormatError naming the op and tensor, any
tensor, declared or inferred, or kernel scratch buffer larger than the model justifies
(runtime/limits.py). LiteRT allocates every declared tensor and trusts the options, so this runs
for every backend (backends/open_engine). The result, a `ShapeBounds`, re-checks the main graph
at run time when the inputs' shapes differ from the declared ones (a larger batch).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError, ModelFormatError
from ..limits import TensorLimits, fmt_bytes
from .model import Subgraph, TFLiteModel
from ..shape_rules import ShapeError, values_key
from .shapes import RULES, ShapeContext
from .shapes_tensor import evaluate_small

Shape = Tuple[int, ...]
# Bytes per element of a kernel's scratch buffers: float kernels work in their own type; integer ones
# may widen to float64 or int64 for exact GEMMs (ops/common.py gemm_dtype).
def _scratch_itemsize(dtype: str) -> int:
    return _itemsize(dtype) if dtype.startswith("float") else 8


MAX_REMEMBERED = 64  # input shapes already checked at run time, skipped when seen again
VALUE_ELEMENTS = 1024  # shape arithmetic up to this size is evaluated at load
_RULE_ERRORS = (ValueError, IndexError, TypeError, ArithmeticError, KeyError, AttributeError)  # kernels may widen int8 to float64/int64 in their scratch buffers


def _itemsize(dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 1  # int4, string: at most a byte per element as far as allocation goes


def _nbytes(shape: Sequence[int], dtype: str) -> int:
    return math.prod(int(d) for d in shape) * _itemsize(dtype)


def _declared(t) -> Optional[Shape]:
    """A tensor's declared shape, or None when its signature has a dimension fixed only at run time."""
    return None if any(d < 0 for d in t.shape_signature) else tuple(t.shape)


def _largest_justified(model: TFLiteModel) -> int:
    """The largest graph input (declared shape) or constant stored in the file, in bytes."""
    best = 0
    for sg in model.subgraphs:
        for i in sg.inputs:
            t = sg.tensors[i]
            best = max(best, _nbytes(t.shape, t.dtype))
        for t in sg.tensors:
            if t.data is not None:
                best = max(best, t.data.nbytes)
    return best


class ShapeBounds:
    """The main subgraph's inferred shapes; `check_inputs(shapes)` re-infers them for other input
    shapes and checks every tensor against the ceiling before anything is allocated."""

    def __init__(self, model: TFLiteModel, source: str, limits: TensorLimits):
        self.source = source
        self.limits = limits
        self._model = model
        self._checked: set = set()
        for sg in model.subgraphs:
            self._check_declared(sg)
        self.shapes: Dict[int, Shape] = {}
        for sg in model.subgraphs:
            shapes = _infer(sg, [sg.tensors[i].shape for i in sg.inputs], source, limits, at_run=False)
            if sg.index == 0:
                self.shapes = shapes
        self._checked.add((tuple(tuple(model.main.tensors[i].shape) for i in model.main.inputs), None))

    def _check_declared(self, sg: Subgraph) -> None:
        for t in sg.tensors:
            self.limits.check(self.source, _nbytes(t.shape, t.dtype),
                              f"{t.describe()}, declared {t.dtype}{list(t.shape)},")

    def infer(self, input_shapes: Sequence[Shape], input_values: Optional[Sequence] = None) -> Dict:
        """Every tensor's shape (tensor index -> shape, None when unknown) for these input shapes, each
        checked against the ceiling."""
        return self._infer_for(tuple(tuple(int(d) for d in s) for s in input_shapes), input_values)

    def check_inputs(self, shapes: Sequence[Shape], values: Optional[Sequence] = None) -> None:
        """values: per input, its array when it is a small integer one (a shape, a count), else None."""
        shapes = tuple(tuple(int(d) for d in s) for s in shapes)
        key = (shapes, values_key(values))
        if key in self._checked:
            return
        self._infer_for(shapes, values)
        self._checked.add(key)
        if len(self._checked) > MAX_REMEMBERED:  # a server fed ever-new shapes must not grow this set
            self._checked = {key}

    def _infer_for(self, shapes, values=None) -> Dict[int, Optional[Shape]]:
        return _infer(self._model.main, shapes, self.source, self.limits, at_run=True, input_values=values)


def _infer(sg: Subgraph, input_shapes: Sequence[Shape], source: str, limits: TensorLimits,
           at_run: bool, input_values: Optional[Sequence] = None) -> Dict[int, Optional[Shape]]:
    tensors = sg.tensors
    shapes: Dict[int, Optional[Shape]] = {i: tuple(t.shape) for i, t in enumerate(tensors) if t.data is not None}
    values: Dict[int, np.ndarray] = {}  # computed small values (shape arithmetic), beside the constants
    for i, s in zip(sg.inputs, input_shapes):
        shapes[i] = tuple(s)
    for i, v in zip(sg.inputs, input_values or ()):
        if v is not None:
            values[i] = np.asarray(v)

    def value(i: int) -> Optional[np.ndarray]:
        if i < 0:
            return None
        if i in values:
            return values[i]
        t = tensors[i]
        if t.data is not None and t.sparsity is None and t.dtype in ("int32", "int64", "float32"):
            return t.dense_value()
        return None

    for op in sg.operators:
        ins = [shapes.get(i, _declared(tensors[i])) if i >= 0 else None for i in op.inputs]
        consts = [value(i) for i in op.inputs]
        what = f"operator {op.index} ({op.display_name})" + (f" in subgraph {sg.index}" if sg.index else "")
        c = ShapeContext(op, ins, consts, len(op.outputs))
        fn = RULES.get(op.op)
        if any(i >= 0 and s is None for i, s in zip(op.inputs, ins)):
            fn = None  # an input's shape is only known at run time: so are the outputs'
        try:
            try:
                outs = fn(c) if fn is not None else None
            except _RULE_ERRORS as e:  # an option or constant of the wrong length or rank
                raise ShapeError(f"options or inputs do not fit the op: {type(e).__name__}: {e}") from e
        except ShapeError as e:
            at = _blame(op, tensors, e.slot)
            if at_run:
                raise InputError(f"{source}: {what}{at}: {e.detail}") from None
            raise ModelFormatError(source, f"{what}{at}: {e.detail}") from None
        if outs is None or len(outs) != len(op.outputs):
            outs = [_declared(tensors[i]) for i in op.outputs]
        _propagate_values(op, c, outs, consts, tensors, values)
        for i, s in zip(op.outputs, outs):
            t = tensors[i]
            shapes[i] = None if s is None else tuple(int(d) for d in s)
            if s is None:
                continue
            if any(d < 0 for d in s):
                raise ModelFormatError(source, f"{what}, output tensor {t.name!r}: computed shape {list(s)} is negative")
            limits.check(source, _nbytes(s, t.dtype), f"{what}, output tensor {t.index} {t.name!r} of shape "
                                                       f"{list(s)} ({t.dtype})", at_run)
        out_name = tensors[op.outputs[0]].name if op.outputs else "?"
        itemsize = _scratch_itemsize(tensors[op.inputs[0]].dtype if op.inputs and op.inputs[0] >= 0 else "int8")
        for scratch, n in c.scratches:
            limits.check(source, n * itemsize, f"{what}, the {scratch} for output tensor {out_name!r} "
                                               f"({n} elements)", at_run)
    return shapes


def _propagate_values(op, c: ShapeContext, outs, ins, tensors, values: Dict[int, np.ndarray]) -> None:
    """Record the op's output values when they are small and follow from known small inputs."""
    for k, v in c.out_values.items():
        values[op.outputs[k]] = v
    present = [v for i, v in zip(op.inputs, ins) if i >= 0]
    if c.out_values or not present or any(v is None or v.size > VALUE_ELEMENTS for v in present):
        return
    if any(s is None or math.prod(s) > VALUE_ELEMENTS for s in outs):
        return
    c.outs = outs
    try:
        results = evaluate_small(op.op, c, present)
    except _RULE_ERRORS:
        return  # the kernel reports its own error when it runs
    for i, r in zip(op.outputs, results or ()):
        if r.shape == tuple(outs[op.outputs.index(i)]) and tensors[i].dtype in ("int32", "int64", "float32"):
            values[i] = r.astype(tensors[i].dtype)


def _blame(op, tensors, slot: Optional[int]) -> str:
    """", input k (tensor i 'name'), output tensor 'name'": the input at fault (else input 0) and the output."""
    if slot is None or not (slot < len(op.inputs) and op.inputs[slot] >= 0):
        slot = 0
    at = ""
    if slot < len(op.inputs) and op.inputs[slot] >= 0:
        t = tensors[op.inputs[slot]]
        at = f", input {slot} (tensor {t.index} {t.name!r})"
    if op.outputs:
        at += f", output tensor {tensors[op.outputs[0]].name!r}"
    return at


def validate(model: TFLiteModel, source: str, max_tensor_bytes: Optional[int] = None) -> ShapeBounds:
    """Check every op's geometry and every tensor's size; ModelFormatError on the first violation."""
    return ShapeBounds(model, source, TensorLimits.for_model(_largest_justified(model), max_tensor_bytes))


__all__ = ["validate", "ShapeBounds", "fmt_bytes"]

"""Shape rules of the ONNX element-wise, reduction and data-movement ops (see shapes.py).

Ops whose output size comes from an input's values (Reshape, Expand, Tile, Pad, Resize, Range,
ConstantOfShape, Split, Slice) get exact shapes when those values are known at load, and unknown
shapes otherwise; their parameters are checked (non-negative repeats and sizes, finite positive
scales, pads that leave a non-negative size, a single -1 in a reshape whose sizes agree).
"""
from __future__ import annotations

import math
from typing import List, Optional

import numpy as np

from ..shape_rules import axis_in, broadcast
from .shapes import rule

UNARY = (
    "Sqrt", "Abs", "Neg", "Exp", "Log", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "IsNaN",
    "IsInf", "Erf", "Relu", "LeakyRelu", "Elu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Softplus",
    "Selu", "Celu", "ThresholdedRelu", "Softsign", "Mish", "Shrink", "Clip", "Not", "CastLike", "Identity", "Cast",
    "Trilu",
)
BROADCAST = (
    "Add", "Sub", "Mul", "Div", "Pow", "Sum", "Max", "Min", "Mean", "Equal", "Less", "LessOrEqual", "Greater",
    "GreaterOrEqual", "And", "Or", "Xor", "Where",
)


@rule(*UNARY)
def unary(c):
    return [c.shape(0)]


@rule(*BROADCAST)
def elementwise(c):
    shapes = [c.shape(i) for i in range(len(c.shapes)) if c.present(i)]
    return None if any(s is None for s in shapes) else [broadcast(c, shapes)]


@rule("PRelu")
def prelu(c):
    x, s = c.shape(0), c.shape(1)
    if x is not None and s is not None and broadcast(c, [x, s]) != x:
        raise c.fail(f"slope of shape {s} does not broadcast to the input's {x}", 1)
    return [x]


@rule("Dropout")
def dropout(c):
    return [c.shape(0)] * c.n_out


@rule("CumSum")
def cumsum(c):
    x, axis = c.shape(0), c.ints(1)
    if x is not None and axis is not None:
        axis_in(c, axis[0], len(x), slot=1)
    return [x]


def _axes_input_or_attr(c, slot: int) -> "tuple[bool, Optional[List[int]]]":
    """(known, axes) from input `slot` (newer opsets) or the `axes` attribute (older ones)."""
    if c.present(slot):
        return (c.value(slot) is not None), c.ints(slot)
    axes = c.attr("axes")
    return True, None if axes is None else [int(a) for a in axes]


@rule("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2",
      "ReduceLogSum", "ReduceLogSumExp")
def reduce(c):
    x = c.shape(0)
    known, axes = _axes_input_or_attr(c, 1)
    if x is None or not known:
        return None
    if not axes:
        if c.attr("noop_with_empty_axes", 0):
            return [x]
        axes = list(range(len(x)))
    red = {axis_in(c, a, len(x), "reduction axis", 1) for a in axes}
    keep = c.attr("keepdims", 1)
    return [tuple(1 if k in red else d for k, d in enumerate(x) if keep or k not in red)]


@rule("ArgMax", "ArgMin")
def arg(c):
    x = c.shape(0)
    if x is None:
        return None
    a = axis_in(c, c.attr("axis", 0), len(x))
    return [tuple(1 if k == a else d for k, d in enumerate(x) if c.attr("keepdims", 1) or k != a)]


@rule("Shape")
def shape_op(c):
    x = c.shape(0)
    if x is None:
        return None
    r = len(x)
    start, end = c.attr("start", 0), c.attr("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    c.out_values[0] = np.array(x[start:end], np.int64)
    return [(max(end - start, 0),)]


@rule("Size")
def size_op(c):
    x = c.shape(0)
    if x is not None:
        c.out_values[0] = np.array(math.prod(x), np.int64)
    return [()]


@rule("Reshape")
def reshape(c):
    x, new = c.shape(0), c.ints(1)
    if x is None or new is None:
        return None
    size = math.prod(x)
    allowzero = c.attr("allowzero", 0)
    if new.count(-1) > 1 or any(d < -1 for d in new) or (allowzero and 0 in new and -1 in new):
        raise c.fail(f"shape {new} has a dimension below -1, several -1, or both 0 and -1 with allowzero", 1)
    if not allowzero:
        if any(d == 0 and k >= len(x) for k, d in enumerate(new)):
            raise c.fail(f"shape {new} copies (0) a dimension that the input {x} does not have", 1)
        new = [x[k] if d == 0 else d for k, d in enumerate(new)]
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        if known == 0 or size % known:
            raise c.fail(f"shape {new} cannot hold the {size} values of {x}", 1)
        new = [size // known if d == -1 else d for d in new]
    if math.prod(new) != size:
        raise c.fail(f"shape {new} holds {math.prod(new)} values, the input {x} has {size}", 1)
    return [tuple(new)]


@rule("Flatten")
def flatten(c):
    x = c.shape(0)
    if x is None:
        return None
    a = c.attr("axis", 1)
    if not -len(x) <= a <= len(x):
        raise c.fail(f"axis {a} is out of range for rank {len(x)}")
    a = a + len(x) if a < 0 else a
    return [(math.prod(x[:a]), math.prod(x[a:]))]


@rule("Transpose")
def transpose(c):
    x = c.shape(0)
    if x is None:
        return None
    perm = c.attr("perm")
    perm = list(reversed(range(len(x)))) if perm is None else [int(p) for p in perm]
    if sorted(perm) != list(range(len(x))):
        raise c.fail(f"perm {perm} is not a permutation of the {len(x)} axes of {x}")
    return [tuple(x[p] for p in perm)]


@rule("Squeeze")
def squeeze(c):
    x = c.shape(0)
    known, axes = _axes_input_or_attr(c, 1)
    if x is None or not known:
        return None
    red = {axis_in(c, a, len(x), "squeeze axis", 1) for a in axes} if axes else {k for k, d in enumerate(x) if d == 1}
    if any(x[a] != 1 for a in red):
        raise c.fail(f"squeezes axes {sorted(red)} of {x}, not all of size 1", 1)
    return [tuple(d for k, d in enumerate(x) if k not in red)]


@rule("Unsqueeze")
def unsqueeze(c):
    x = c.shape(0)
    known, axes = _axes_input_or_attr(c, 1)
    if x is None or not known or axes is None:
        return None
    r = len(x) + len(axes)
    pos = {axis_in(c, a, r, "unsqueeze axis", 1) for a in axes}
    if len(pos) != len(axes):
        raise c.fail(f"axes {axes} repeat an axis", 1)
    it = iter(x)
    return [tuple(1 if k in pos else next(it) for k in range(r))]


@rule("Concat")
def concat(c):
    shapes = [c.shape(i) for i in range(len(c.shapes))]
    if any(s is None for s in shapes) or not shapes:
        return None
    rank = len(shapes[0])
    a = axis_in(c, c.attr("axis", 0), rank)
    for i, s in enumerate(shapes):
        if len(s) != rank or any(d != e for k, (d, e) in enumerate(zip(s, shapes[0])) if k != a):
            raise c.fail(f"shape {s} does not concatenate with {shapes[0]} along axis {a}", i)
    return [shapes[0][:a] + (sum(s[a] for s in shapes),) + shapes[0][a + 1:]]


@rule("Split")
def split(c):
    x = c.shape(0)
    if x is None:
        return None
    a = axis_in(c, c.attr("axis", 0), len(x))
    if c.present(1):
        sizes = c.ints(1)
        if sizes is None:
            return None
    else:
        sizes = [int(s) for s in c.attr("split")] if c.attr("split") is not None else None
    if sizes:
        if any(s < 0 for s in sizes) or sum(sizes) != x[a] or len(sizes) != c.n_out:
            raise c.fail(f"split {sizes} for {c.n_out} outputs does not divide dimension {a} of {x}", 1)
    else:
        n = c.attr("num_outputs", c.n_out)
        if n <= 0 or n != c.n_out:
            raise c.fail(f"num_outputs {n} for {c.n_out} outputs")
        size = -(-x[a] // n)
        sizes = [min(size, x[a] - i * size) for i in range(n)]
        if any(s < 0 for s in sizes):
            raise c.fail(f"dimension {a} of {x} cannot make {n} outputs", 0)
    return [x[:a] + (s,) + x[a + 1:] for s in sizes]


@rule("Slice")
def slice_op(c):
    x = c.shape(0)
    if x is None:
        return None
    if c.present(1):
        starts, ends = c.ints(1), c.ints(2)
        axes = c.ints(3) if c.present(3) else None
        steps = c.ints(4) if c.present(4) else None
        if starts is None or ends is None or (c.present(3) and axes is None) or (c.present(4) and steps is None):
            return None
    else:
        starts, ends, axes, steps = c.attr("starts", ()), c.attr("ends", ()), c.attr("axes"), None
    axes = list(range(len(starts))) if axes is None else [axis_in(c, a, len(x), slot=3) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps) or len(set(axes)) != len(axes):
        raise c.fail(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} do not match", 1)
    if 0 in steps:
        raise c.fail(f"steps {steps} contain 0", 4)
    from .ops.shape import Slice

    dummy = np.broadcast_to(np.zeros((), np.uint8), x)  # a view of the right shape, no memory
    return [Slice(dummy, starts, ends, axes, steps).shape]


@rule("Gather")
def gather(c):
    x, idx = c.shape(0), c.shape(1)
    if x is None or idx is None:
        return None
    a = axis_in(c, c.attr("axis", 0), len(x))
    values = c.ints(1)
    if values is not None and any(not -x[a] <= v < x[a] for v in values):
        raise c.fail(f"an index is outside [-{x[a]}, {x[a]})", 1)
    return [x[:a] + idx + x[a + 1:]]


@rule("GatherElements")
def gather_elements(c):
    x, idx = c.shape(0), c.shape(1)
    if x is not None and idx is not None:
        a = axis_in(c, c.attr("axis", 0), len(x))
        if len(idx) != len(x) or any(i > d for k, (i, d) in enumerate(zip(idx, x)) if k != a):
            raise c.fail(f"indices of shape {idx} do not fit data of shape {x}", 1)
    return [idx]


@rule("Expand")
def expand(c):
    x, shape = c.shape(0), c.ints(1)
    if x is None or shape is None:
        return None
    if any(d < 0 for d in shape):
        raise c.fail(f"shape {shape} has a negative dimension", 1)
    return [broadcast(c, [x, tuple(shape)], 1)]


@rule("Tile")
def tile(c):
    x, reps = c.shape(0), c.ints(1)
    if x is None or reps is None:
        return None
    if len(reps) != len(x) or any(r < 0 for r in reps):
        raise c.fail(f"repeats {reps} must be {len(x)} non-negative counts", 1)
    return [tuple(d * r for d, r in zip(x, reps))]


def _block(c, x):
    b = c.attr("blocksize", 0)
    if x is not None and len(x) != 4:
        raise c.fail(f"input {x} must be rank 4", 0)
    if not 1 <= b <= 1 << 16:
        raise c.fail(f"blocksize {b} must be in 1..65536")
    return b


@rule("DepthToSpace")
def depth_to_space(c):
    x = c.shape(0)
    b = _block(c, x)
    if x is None:
        return None
    if x[1] % (b * b):
        raise c.fail(f"{x[1]} channels are not a multiple of blocksize^2 = {b * b}", 0)
    return [(x[0], x[1] // (b * b), x[2] * b, x[3] * b)]


@rule("SpaceToDepth")
def space_to_depth(c):
    x = c.shape(0)
    b = _block(c, x)
    if x is None:
        return None
    if x[2] % b or x[3] % b:
        raise c.fail(f"spatial size {x[2:]} is not a multiple of blocksize {b}", 0)
    return [(x[0], x[1] * b * b, x[2] // b, x[3] // b)]


@rule("Range")
def range_op(c):
    vals = [c.value(i) for i in range(3)]
    if any(v is None for v in vals):
        return None
    if any(v.size != 1 for v in vals):
        raise c.fail("start, limit and delta must be scalars")
    s, lim, d = (float(v.reshape(-1)[0]) for v in vals)
    if d == 0 or not all(math.isfinite(v) for v in (s, lim, d)):
        raise c.fail(f"Range({s}, {lim}, {d}) has no finite length", 2)
    return [(max(math.ceil((lim - s) / d), 0),)]


@rule("Constant")
def constant(c):
    """The value is in the file and the validator evaluates it; a sparse one is bounded by its dims first."""
    sparse = c.attrs.get("sparse_value")
    return None if sparse is None else [tuple(sparse.dims)]


@rule("ConstantOfShape")
def constant_of_shape(c):
    shape = c.ints(0)
    if shape is None:
        return None
    if any(d < 0 for d in shape):
        raise c.fail(f"shape {shape} has a negative dimension", 0)
    return [tuple(shape)]


@rule("Pad")
def pad(c):
    x = c.shape(0)
    if x is None:
        return None
    if c.present(1):
        p = c.ints(1)
        axes = c.ints(3) if c.present(3) else None
        if p is None or (c.present(3) and axes is None):
            return None
    else:
        p, axes = [int(v) for v in c.attr("pads", ())], None
    axes = list(range(len(x))) if axes is None else [axis_in(c, a, len(x), slot=3) for a in axes]
    if len(p) != 2 * len(axes):
        raise c.fail(f"pads {p} do not give a begin and end for each of the axes {axes}", 1)
    out = list(x)
    k = len(axes)
    mode = c.attr("mode", "constant")
    for i, a in enumerate(axes):
        out[a] = x[a] + p[i] + p[i + k]
        if out[a] < 0 or min(p[i], p[i + k]) < -x[a]:
            raise c.fail(f"pads {p} crop axis {a} of {x} below nothing", 1)
        if mode != "constant" and x[a] == 0 and out[a] > 0:
            raise c.fail(f"{mode} padding of the empty axis {a} of {x}", 1)
    return [tuple(out)]


def _resize_out(c, x, scales, sizes, axes):
    axes = list(range(len(x))) if axes is None else [axis_in(c, a, len(x)) for a in axes]
    if sizes:
        if len(sizes) != len(axes) or any(s <= 0 for s in sizes):
            raise c.fail(f"sizes {sizes} must be {len(axes)} positive sizes", 3)
        policy = c.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            ratios = [s / x[a] for s, a in zip(sizes, axes) if x[a]]
            r = (min if policy == "not_larger" else max)(ratios) if ratios else 1.0
            sizes = [int(math.floor(r * x[a] + 0.5)) for a in axes]
    elif scales:
        if len(scales) != len(axes) or any(not (math.isfinite(s) and s > 0) for s in scales):
            raise c.fail(f"scales {scales} must be {len(axes)} finite positive factors", 2)
        sizes = [int(math.floor(x[a] * float(np.float32(s)))) for a, s in zip(axes, scales)]
    else:
        raise c.fail("Resize needs either scales or sizes")
    out = list(x)
    for a, s in zip(axes, sizes):
        out[a] = s
    return [tuple(out)]


@rule("Resize", "Upsample")
def resize(c):
    x = c.shape(0)
    if x is None:
        return None
    if c.kernel_name in ("Resize_10", "Upsample"):  # (X, scales)
        v = c.value(1)
        if v is None:
            return None
        return _resize_out(c, x, [float(s) for s in v.reshape(-1)], None, None)
    scales = c.value(2) if c.present(2) else None
    sizes = c.ints(3) if c.present(3) else None
    if (c.present(2) and scales is None) or (c.present(3) and sizes is None):
        return None
    scales = [float(s) for s in scales.reshape(-1)] if scales is not None else None
    return _resize_out(c, x, scales, sizes, c.attr("axes"))

"""Shape rules of the TFLite data-movement, reduction and element-wise ops (see shapes.py), and the
evaluation of small shape arithmetic at load.

Ops whose output size comes from a constant input (RESHAPE, TILE, PAD, FILL, RANGE, resize sizes,
SPLIT_V sizes) get exact shapes when that input is known, and their parameters are checked. The
converter computes a dynamic batch's shapes in the graph (SHAPE -> STRIDED_SLICE -> PACK ->
RESHAPE); `evaluate_small` runs those ops on their small known values, so later rules see them.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional

import numpy as np

from .ops.slicing import strided_slice_index
from ..shape_rules import Shape, axis_in, broadcast
from .shapes import ShapeContext, rule, window


@rule("CONCATENATION")
def concatenation(c):
    shapes = [c.shape(i) for i in range(len(c.shapes))]
    rank = len(shapes[0])
    axis = axis_in(c, c.opt("axis", 0), rank)
    for i, s in enumerate(shapes):
        if len(s) != rank or any(d != e for k, (d, e) in enumerate(zip(s, shapes[0])) if k != axis):
            raise c.fail(f"shape {s} does not concatenate with {shapes[0]} along axis {axis}", i)
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


@rule("PACK")
def pack(c):
    shapes = [c.shape(i) for i in range(len(c.shapes))]
    if c.opt("values_count", len(shapes)) != len(shapes):
        raise c.fail(f"values_count is {c.opt('values_count')} for {len(shapes)} inputs")
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise c.fail(f"shape {s} differs from {shapes[0]}", i)
    axis = axis_in(c, c.opt("axis", 0), len(shapes[0]) + 1)
    return [shapes[0][:axis] + (len(shapes),) + shapes[0][axis:]]


@rule("UNPACK")
def unpack(c):
    x = c.shape(0)
    axis = axis_in(c, c.opt("axis", 0), len(x), slot=0)
    if x[axis] != c.n_out:
        raise c.fail(f"unpacks dimension {axis} of {x} into {c.n_out} outputs", 0)
    return [x[:axis] + x[axis + 1:]] * c.n_out


@rule("SPLIT")
def split(c):
    x, axis = c.shape(1), c.ints(0)
    if axis is None:
        return None
    a = axis_in(c, axis[0], len(x), slot=0)
    n = c.opt("num_splits", c.n_out)
    if n != c.n_out or n <= 0 or x[a] % n:
        raise c.fail(f"cannot split dimension {a} of {x} into {n} equal parts for {c.n_out} outputs", 1)
    return [x[:a] + (x[a] // n,) + x[a + 1:]] * n


@rule("SPLIT_V")
def split_v(c):
    x, sizes, axis = c.shape(0), c.ints(1), c.ints(2)
    if sizes is None or axis is None:
        return None
    a = axis_in(c, axis[0], len(x), slot=2)
    if len(sizes) != c.n_out or sizes.count(-1) > 1 or any(s < -1 for s in sizes):
        raise c.fail(f"size_splits {sizes} for {c.n_out} outputs", 1)
    if -1 in sizes:
        sizes[sizes.index(-1)] = x[a] - (sum(sizes) + 1)
    if any(s < 0 for s in sizes) or sum(sizes) != x[a]:
        raise c.fail(f"size_splits {sizes} do not add up to dimension {a} of {x}", 1)
    return [x[:a] + (s,) + x[a + 1:] for s in sizes]


def _reshape(c, x: Shape, new: List[int], slot: int) -> Shape:
    size = math.prod(x)
    if new.count(-1) > 1 or any(d < -1 for d in new):
        raise c.fail(f"new shape {new} has a negative dimension or more than one -1", slot)
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        if known == 0 or size % known:
            raise c.fail(f"new shape {new} cannot hold the {size} values of {x}", slot)
        new = [size // known if d == -1 else d for d in new]
    if math.prod(new) != size:
        raise c.fail(f"new shape {new} holds {math.prod(new)} values, the input {x} has {size}", slot)
    return tuple(new)


@rule("RESHAPE")
def reshape(c):
    x = c.shape(0)
    if c.has(1):
        new = c.ints(1)
        if new is None:
            return None
        if not (len(new) == 1 and new[0] == 0 and math.prod(x) != 0):  # a [0] shape tensor: use new_shape
            return [_reshape(c, x, new, 1)]
    static = c.opt("new_shape", None)
    return None if static is None else [_reshape(c, x, list(static), 0)]


@rule("SQUEEZE")
def squeeze(c):
    x = c.shape(0)
    dims = c.opt("squeeze_dims", None) or ()
    axes = {axis_in(c, d, len(x), "squeeze dimension", 0) for d in dims} if dims else {
        k for k, d in enumerate(x) if d == 1}
    for a in axes:
        if x[a] != 1:
            raise c.fail(f"squeezes dimension {a} of {x}, which is not 1", 0)
    return [tuple(d for k, d in enumerate(x) if k not in axes)]


@rule("EXPAND_DIMS")
def expand_dims(c):
    x, axis = c.shape(0), c.ints(1)
    if axis is None:
        return None
    a = axis_in(c, axis[0], len(x) + 1, slot=1)
    return [x[:a] + (1,) + x[a:]]


@rule("SHAPE")
def shape_op(c):
    out = c.op.options.get("out_type", 0)
    c.out_values[0] = np.array(c.shape(0), np.int64 if out == 4 else np.int32)
    return [(len(c.shape(0)),)]


@rule("TRANSPOSE")
def transpose(c):
    x, perm = c.shape(0), c.ints(1)
    if perm is None:
        return None
    if sorted(perm) != list(range(len(x))):
        raise c.fail(f"permutation {perm} is not one of the {len(x)} axes of {x}", 1)
    return [tuple(x[p] for p in perm)]


@rule("GATHER")
def gather(c):
    x, idx = c.shape(0), c.shape(1)
    a = axis_in(c, c.opt("axis", 0), len(x))
    values = c.ints(1)
    if values is not None and any(not 0 <= v < x[a] for v in values):
        raise c.fail(f"an index is outside [0, {x[a]})", 1)
    return [x[:a] + idx + x[a + 1:]]


@rule("SLICE")
def slice_op(c):
    x, begin, size = c.shape(0), c.ints(1), c.ints(2)
    if begin is None or size is None:
        return None
    if len(begin) != len(x) or len(size) != len(x):
        raise c.fail(f"begin {begin} and size {size} do not match the rank of {x}", 1)
    out = []
    for d, b, s in zip(x, begin, size):
        s = d - b if s == -1 else s
        if b < 0 or s < 0 or b + s > d:
            raise c.fail(f"begin {begin} with size {size} is outside {x}", 2)
        out.append(s)
    return [tuple(out)]


@rule("STRIDED_SLICE")
def strided_slice(c):
    x, begin, end, strides = c.shape(0), c.ints(1), c.ints(2), c.ints(3)
    if strides is not None and 0 in strides:
        raise c.fail(f"strides {strides} contain 0", 3)
    if begin is None or end is None or strides is None:
        return None
    if not len(begin) == len(end) == len(strides):
        raise c.fail(f"begin {begin}, end {end} and strides {strides} differ in length", 1)
    o = c.options
    index = strided_slice_index(begin, end, strides, o.get("begin_mask", 0), o.get("end_mask", 0),
                                o.get("ellipsis_mask", 0), o.get("new_axis_mask", 0), o.get("shrink_axis_mask", 0),
                                bool(o.get("offset", False)))
    try:
        return [np.broadcast_to(np.zeros((), np.uint8), x)[index].shape]  # a view: no memory
    except IndexError as e:
        raise c.fail(f"begin {begin}, end {end}, strides {strides} do not index {x}: {e}", 1) from None


def evaluate_small(op: str, c: ShapeContext, vals: List[np.ndarray]) -> Optional[List[np.ndarray]]:
    """The outputs of shape arithmetic (the converter's SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE
    chains for a dynamic batch) on known small integer inputs, so that later shape rules see them."""
    fn = VALUES.get(op)
    out = None if fn is None else fn(c, vals)
    return None if out is None else [np.asarray(v) for v in out]


def _stack(c, vals):
    return [np.stack(vals, axis=c.opt("axis", 0) % (vals[0].ndim + 1))]


def _concat(c, vals):
    return [np.concatenate(vals, axis=c.opt("axis", 0) % max(vals[0].ndim, 1))]


def _slice_values(c, vals):
    o = c.options
    index = strided_slice_index(vals[1].reshape(-1), vals[2].reshape(-1), vals[3].reshape(-1),
                                o.get("begin_mask", 0), o.get("end_mask", 0), o.get("ellipsis_mask", 0),
                                o.get("new_axis_mask", 0), o.get("shrink_axis_mask", 0), bool(o.get("offset", False)))
    return [np.array(vals[0][index])]


VALUES: Dict[str, Callable] = {
    "PACK": _stack, "CONCATENATION": _concat, "STRIDED_SLICE": _slice_values,
    "MUL": lambda c, v: [v[0] * v[1]], "ADD": lambda c, v: [v[0] + v[1]], "SUB": lambda c, v: [v[0] - v[1]],
    "FLOOR_DIV": lambda c, v: [np.floor_divide(v[0], v[1])],
    "GATHER": lambda c, v: [np.take(v[0], v[1].astype(np.int64), axis=c.opt("axis", 0))],
    "REDUCE_PROD": lambda c, v: [np.prod(v[0], axis=tuple(int(a) for a in v[1].reshape(-1)),
                                         keepdims=bool(c.opt("keep_dims", False)))],
    "CAST": lambda c, v: [v[0]],
    "RESHAPE": lambda c, v: [v[0].reshape(c.outs[0])] if c.outs and c.outs[0] is not None else None,
    "SQUEEZE": lambda c, v: [v[0].reshape(c.outs[0])] if c.outs and c.outs[0] is not None else None,
    "EXPAND_DIMS": lambda c, v: [v[0].reshape(c.outs[0])] if c.outs and c.outs[0] is not None else None,
}


@rule("PAD", "PADV2", "MIRROR_PAD")
def pad(c):
    x, p = c.shape(0), c.ints(1)
    if p is None:
        return None
    if len(p) % 2 or len(p) // 2 > len(x):
        raise c.fail(f"paddings {p} do not fit rank {len(x)}", 1)
    rows = [(0, 0)] * (len(x) - len(p) // 2) + [(p[k], p[k + 1]) for k in range(0, len(p), 2)]
    mirror = c.op.op == "MIRROR_PAD"
    for d, (a, b) in zip(x, rows):
        most = (d - 1 if c.opt("mode", 0) == 0 else d) if mirror else None
        if a < 0 or b < 0 or (most is not None and max(a, b) > most):
            raise c.fail(f"paddings {rows} are negative or, for MIRROR_PAD, larger than {x}", 1)
    return [tuple(d + a + b for d, (a, b) in zip(x, rows))]


@rule("TILE")
def tile(c):
    x, m = c.shape(0), c.ints(1)
    if m is None:
        return None
    if len(m) != len(x) or any(v < 0 for v in m):
        raise c.fail(f"multiples {m} must be {len(x)} non-negative counts", 1)
    return [tuple(d * v for d, v in zip(x, m))]


@rule("BROADCAST_TO")
def broadcast_to(c):
    x, shape = c.shape(0), c.ints(1)
    if shape is None:
        return None
    if any(d < 0 for d in shape):
        raise c.fail(f"target shape {shape} has a negative dimension", 1)
    out = broadcast(c, [x, tuple(shape)])
    if out != tuple(shape):
        raise c.fail(f"input {x} does not broadcast to {shape}", 1)
    return [out]


@rule("FILL")
def fill(c):
    dims = c.ints(0)
    if dims is None:
        return None
    if any(d < 0 for d in dims):
        raise c.fail(f"dims {dims} have a negative entry", 0)
    return [tuple(dims)]


@rule("RANGE")
def range_op(c):
    vals = [c.const(i) for i in range(3)]
    if any(v is None or v.size != 1 for v in vals):
        return None
    start, limit, delta = (float(v.reshape(-1)[0]) for v in vals)
    if delta == 0 or not all(math.isfinite(v) for v in (start, limit, delta)):
        raise c.fail(f"RANGE({start}, {limit}, {delta}) has no finite length", 2)
    return [(max(0, math.ceil((limit - start) / delta)),)]


@rule("ARG_MAX", "ARG_MIN")
def arg(c):
    x, axis = c.shape(0), c.ints(1)
    if axis is None:
        return None
    a = axis_in(c, axis[0], len(x), slot=1)
    return [x[:a] + x[a + 1:]]


@rule("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD")
def reduce_op(c):
    x, axes = c.shape(0), c.ints(1)
    if axes is None:
        return None
    keep = c.opt("keep_dims", False)
    red = {axis_in(c, a, len(x), slot=1) for a in axes}
    return [tuple(1 if k in red else d for k, d in enumerate(x) if keep or k not in red)]


@rule("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize(c):
    x, size = c.shape(0), c.ints(1)
    if len(x) != 4:
        raise c.fail(f"input has shape {x}; resizing needs NHWC (rank 4)", 0)
    if size is None:
        return None
    if len(size) != 2 or any(s <= 0 for s in size):
        raise c.fail(f"size {size} must be two positive numbers", 1)
    return [(x[0], size[0], size[1], x[3])]


@rule("SPACE_TO_BATCH_ND")
def space_to_batch(c):
    x, block, p = c.shape(0), c.ints(1), c.ints(2)
    if block is None or p is None:
        return None
    m = len(block)
    if len(x) < m + 1 or len(p) != 2 * m:
        raise c.fail(f"block_shape {block} and paddings {p} do not fit input {x}", 1)
    out = [x[0] * math.prod(window(c, "block size", b, 1) for b in block)]
    for d in range(m):
        a, b = p[2 * d], p[2 * d + 1]
        if a < 0 or b < 0 or (x[1 + d] + a + b) % block[d]:
            raise c.fail(f"paddings {p} are negative or leave dimension {1 + d} of {x} not a multiple of "
                         f"{block[d]}", 2)
        out.append((x[1 + d] + a + b) // block[d])
    c.scratch("padded input", [x[0]] + [x[1 + d] + p[2 * d] + p[2 * d + 1] for d in range(m)] + list(x[1 + m:]))
    return [tuple(out) + x[1 + m:]]


@rule("BATCH_TO_SPACE_ND")
def batch_to_space(c):
    x, block, crops = c.shape(0), c.ints(1), c.ints(2)
    if block is None or crops is None:
        return None
    m = len(block)
    if len(x) < m + 1 or len(crops) != 2 * m:
        raise c.fail(f"block_shape {block} and crops {crops} do not fit input {x}", 1)
    total = math.prod(window(c, "block size", b, 1) for b in block)
    if x[0] % total:
        raise c.fail(f"batch {x[0]} is not a multiple of the block's {total}", 0)
    out = [x[0] // total]
    for d in range(m):
        full = x[1 + d] * block[d]
        a, b = crops[2 * d], crops[2 * d + 1]
        if a < 0 or b < 0 or a + b > full:
            raise c.fail(f"crops {crops} are negative or larger than dimension {1 + d} ({full})", 2)
        out.append(full - a - b)
    return [tuple(out) + x[1 + m:]]


@rule("ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MINIMUM", "MAXIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD",
      "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR",
      "SELECT", "SELECT_V2")
def elementwise(c):
    return [broadcast(c, [c.shape(i) for i in range(len(c.shapes)) if c.has(i)])]


@rule("RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "GELU", "ELU", "EXP",
      "RSQRT", "ABS", "LOGICAL_NOT", "CAST", "ZEROS_LIKE", "QUANTIZE", "DEQUANTIZE", "DENSIFY", "SOFTMAX",
      "LOG_SOFTMAX", "LOG", "SQRT", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "NEG", "SQUARE", "SIGN")
def same_shape(c):
    return [c.shape(0)]

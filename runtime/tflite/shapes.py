"""Shape rules of the TFLite ops: each op's output shapes from its input shapes, options and constant
inputs, checking on the way every piece of geometry the kernel would trust (strides, dilations,
filter sizes, axes, paddings, block sizes, reshape and broadcast shapes).

A rule gets a `ShapeContext` and returns the output shapes, or None when they depend on values only
known at run time (then the file's declared shapes stand in, and the kernels check the sizes they
compute: ops/context.py `check_output_size`). A rule that finds the op inconsistent calls
`c.fail(detail, input_slot)`, which names the op and the tensor. Rules also declare the scratch
buffers their kernel allocates beyond its output (`c.scratch`), such as an im2col matrix.
The arithmetic follows the LiteRT kernels (tflite/kernels/padding.h for output sizes and padding).
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .ops.common import out_size_and_pad
from .ops.slicing import strided_slice_index

Shape = Tuple[int, ...]
MAX_WINDOW = 1 << 16  # strides, dilations, filter and block sizes: positive and at most this
RULES: Dict[str, Callable] = {}


class ShapeError(Exception):
    """An op inconsistent with its inputs; `slot` is the input index at fault (None: the op itself)."""

    def __init__(self, detail: str, slot: Optional[int] = None):
        super().__init__(detail)
        self.detail = detail
        self.slot = slot


class ShapeContext:
    """What a rule may read: input shapes (None for an omitted input), constant values, options."""

    def __init__(self, op, shapes: Sequence[Optional[Shape]], consts: Sequence[Optional[np.ndarray]], n_out: int):
        self.op = op
        self.shapes = list(shapes)
        self.consts = list(consts)
        self.n_out = n_out
        self.options = op.options
        self.scratches: List[Tuple[str, int]] = []  # (what, elements)
        self.out_values: Dict[int, np.ndarray] = {}  # output values a rule knows (SHAPE)
        self.outs: Optional[List[Optional[Shape]]] = None  # the rule's result, for the value functions

    def shape(self, i: int) -> Shape:
        if i >= len(self.shapes) or self.shapes[i] is None:
            raise ShapeError(f"input {i} is missing")
        return self.shapes[i]

    def has(self, i: int) -> bool:
        return i < len(self.shapes) and self.shapes[i] is not None

    def const(self, i: int) -> Optional[np.ndarray]:
        return self.consts[i] if i < len(self.consts) else None

    def ints(self, i: int) -> Optional[List[int]]:
        v = self.const(i)
        if v is None:
            return None
        if v.dtype.kind not in "iu":
            raise ShapeError(f"holds {v.dtype} values where integers are expected", i)
        return [int(x) for x in v.reshape(-1)]

    def opt(self, name: str, default=0):
        return self.options.get(name, default)

    def fail(self, detail: str, slot: Optional[int] = None) -> ShapeError:
        return ShapeError(detail, slot)

    def scratch(self, what: str, shape: Sequence[int]) -> None:
        self.scratches.append((what, math.prod(int(d) for d in shape)))


def rule(*names: str):
    def deco(fn):
        for n in names:
            RULES[n] = fn
        return fn

    return deco


def window(c: ShapeContext, name: str, value: int, slot: Optional[int] = None) -> int:
    if not 1 <= value <= MAX_WINDOW:
        raise c.fail(f"{name} is {value}; it must be in 1..{MAX_WINDOW}", slot)
    return value


def axis_in(c: ShapeContext, axis: int, rank: int, what: str = "axis", slot: Optional[int] = None) -> int:
    if not -rank <= axis < rank:
        raise c.fail(f"{what} {axis} is out of range for rank {rank}", slot)
    return axis % rank


def broadcast(c: ShapeContext, shapes: Sequence[Shape]) -> Shape:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = {s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise c.fail(f"shapes {', '.join(str(tuple(s)) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def _spatial(c: ShapeContext, x: Shape, kh: int, kw: int, dilated: bool = True):
    """(OH, OW, padded H, padded W) of a 2-D window op on NHWC `x`, options checked."""
    if len(x) != 4:
        raise c.fail(f"input has shape {x}; a 2-D window op needs NHWC (rank 4)", 0)
    sh = window(c, "stride_h", c.opt("stride_h"))
    sw = window(c, "stride_w", c.opt("stride_w"))
    dh = window(c, "dilation_h_factor", c.opt("dilation_h_factor", 1)) if dilated else 1
    dw = window(c, "dilation_w_factor", c.opt("dilation_w_factor", 1)) if dilated else 1
    padding = c.opt("padding", "SAME")
    oh, pt, pb = out_size_and_pad(padding, x[1], kh, sh, dh)
    ow, pl, pr = out_size_and_pad(padding, x[2], kw, sw, dw)
    if (oh <= 0 or ow <= 0) and x[1] and x[2]:
        raise c.fail(f"a {kh}x{kw} window (dilation {dh}x{dw}, padding {padding}) does not fit input {x}", 0)
    return oh, ow, x[1] + pt + pb, x[2] + pl + pr


@rule("CONV_2D")
def conv_2d(c):
    x, w = c.shape(0), c.shape(1)
    if len(w) != 4:
        raise c.fail(f"filter has shape {w}; CONV_2D needs OHWI (rank 4)", 1)
    o, kh, kw, i = w
    window(c, "filter height", kh, 1)
    window(c, "filter width", kw, 1)
    oh, ow, ph, pw = _spatial(c, x, kh, kw)
    if i <= 0 or x[3] % i or o % (x[3] // i or 1):
        raise c.fail(f"filter {w} does not fit an input of {x[3]} channels (groups must divide both)", 1)
    if c.has(2) and c.shape(2) != (o,):
        raise c.fail(f"bias has shape {c.shape(2)}, expected ({o},)", 2)
    c.scratch("padded input", (x[0], ph, pw, x[3]))
    c.scratch("im2col matrix", (x[0], oh, ow, kh * kw * x[3]))
    return [(x[0], oh, ow, o)]


@rule("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(c):
    x, w = c.shape(0), c.shape(1)
    if len(w) != 4 or w[0] != 1:
        raise c.fail(f"filter has shape {w}; DEPTHWISE_CONV_2D needs 1 x KH x KW x C*M", 1)
    _, kh, kw, n_out = w
    window(c, "filter height", kh, 1)
    window(c, "filter width", kw, 1)
    oh, ow, ph, pw = _spatial(c, x, kh, kw)
    if x[3] <= 0 or n_out % x[3]:
        raise c.fail(f"filter {w} has {n_out} channels, not a multiple of the input's {x[3]}", 1)
    if c.has(2) and c.shape(2) != (n_out,):
        raise c.fail(f"bias has shape {c.shape(2)}, expected ({n_out},)", 2)
    c.scratch("padded input", (x[0], ph, pw, x[3]))
    return [(x[0], oh, ow, n_out)]


@rule("TRANSPOSE_CONV")
def transpose_conv(c):
    w, x = c.shape(1), c.shape(2)
    if len(w) != 4 or len(x) != 4:
        raise c.fail(f"filter {w} and input {x} must both be rank 4", 1)
    o, kh, kw, i = w
    window(c, "filter height", kh, 1)
    window(c, "filter width", kw, 1)
    sh, sw = window(c, "stride_h", c.opt("stride_h")), window(c, "stride_w", c.opt("stride_w"))
    if x[3] != i:
        raise c.fail(f"filter {w} expects {i} input channels, the input has {x[3]}", 1)
    if c.has(3) and c.shape(3) != (o,):
        raise c.fail(f"bias has shape {c.shape(3)}, expected ({o},)", 3)
    out = c.ints(0)
    if out is None:
        return None
    if len(out) != 4 or any(d < 0 for d in out) or out[0] != x[0] or out[3] != o:
        raise c.fail(f"output_shape {out} does not fit input {x} and filter {w}", 0)
    padding = c.opt("padding", "SAME")
    for dim, k, s, n in ((out[1], kh, sh, x[1]), (out[2], kw, sw, x[2])):
        got, _, _ = out_size_and_pad(padding, dim, k, s)
        if got != n:
            raise c.fail(f"output_shape {out}: a {padding} convolution of it with stride {s} gives {got}, "
                         f"not the input's {n}", 0)
    c.scratch("columns", (x[0], x[1], x[2], kh * kw * o))
    return [tuple(out)]


@rule("MAX_POOL_2D", "AVERAGE_POOL_2D")
def pool_2d(c):
    x = c.shape(0)
    fh = window(c, "filter_height", c.opt("filter_height"))
    fw = window(c, "filter_width", c.opt("filter_width"))
    oh, ow, ph, pw = _spatial(c, x, fh, fw, dilated=False)
    c.scratch("padded input", (x[0], ph, pw, x[3]))
    return [(x[0], oh, ow, x[3])]


@rule("FULLY_CONNECTED")
def fully_connected(c):
    x, w = c.shape(0), c.shape(1)
    if len(w) != 2 or w[1] <= 0:
        raise c.fail(f"weights have shape {w}; FULLY_CONNECTED needs (units, depth) with depth > 0", 1)
    units, depth = w
    size = math.prod(x)
    if size % depth:
        raise c.fail(f"input {x} ({size} values) is not a whole number of rows of depth {depth}", 0)
    if c.has(2) and math.prod(c.shape(2)) != units:
        raise c.fail(f"bias has shape {c.shape(2)}, expected ({units},)", 2)
    if c.opt("keep_num_dims", False):
        if not x or x[-1] != depth:
            raise c.fail(f"keep_num_dims with input {x} whose last dimension is not {depth}", 0)
        return [tuple(x[:-1]) + (units,)]
    return [(size // depth, units)]


@rule("BATCH_MATMUL")
def batch_matmul(c):
    a, b = c.shape(0), c.shape(1)
    if len(a) < 2 or len(b) < 2:
        raise c.fail(f"operands {a} and {b} must be at least rank 2")
    m, k = (a[-1], a[-2]) if c.opt("adj_x", False) else (a[-2], a[-1])
    k2, n = (b[-1], b[-2]) if c.opt("adj_y", False) else (b[-2], b[-1])
    if k != k2:
        raise c.fail(f"operands {a} and {b} have inner dimensions {k} and {k2}", 1)
    return [broadcast(c, [a[:-2], b[:-2]]) + (m, n)]


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

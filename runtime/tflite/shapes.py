"""Shape rules of the TFLite ops: each op's output shapes from its input shapes, options and constant
inputs, checking on the way every piece of geometry the kernel would trust (strides, dilations,
filter sizes, axes, paddings, block sizes, reshape and broadcast shapes).

A rule gets a `ShapeContext` and returns the output shapes, or None when they depend on values only
known at run time (then the file's declared shapes stand in, and the kernels check the sizes they
compute: ops/context.py `check_output_size`). A rule that finds the op inconsistent calls
`c.fail(detail, input_slot)`, which names the op and the tensor. Rules also declare the scratch
buffers their kernel allocates beyond its output (`c.scratch`), such as an im2col matrix.
The arithmetic follows the LiteRT kernels (tflite/kernels/padding.h for output sizes and padding).
This module holds the windowed and matrix ops; shapes_tensor.py the data-movement and element-wise ones.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..shape_rules import MAX_WINDOW, RuleContext, Shape, ShapeError, broadcast, registry
from .ops.common import out_size_and_pad

RULES, rule = registry()


class ShapeContext(RuleContext):
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



def window(c: ShapeContext, name: str, value: int, slot: Optional[int] = None) -> int:
    if not 1 <= value <= MAX_WINDOW:
        raise c.fail(f"{name} is {value}; it must be in 1..{MAX_WINDOW}", slot)
    return value


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
    if len(out) != 4 or any(d < 0 for d in out) or out[3] != o:
        raise c.fail(f"output_shape {out} does not fit input {x} and filter {w}", 0)
    padding = c.opt("padding", "SAME")
    for dim, k, s, n in ((out[1], kh, sh, x[1]), (out[2], kw, sw, x[2])):
        got, _, _ = out_size_and_pad(padding, dim, k, s)
        if got != n:
            raise c.fail(f"output_shape {out}: a {padding} convolution of it with stride {s} gives {got}, "
                         f"not the input's {n}", 0)
    c.scratch("columns", (x[0], x[1], x[2], kh * kw * o))
    return [(x[0],) + tuple(out[1:])]  # the kernel takes the batch from the input


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

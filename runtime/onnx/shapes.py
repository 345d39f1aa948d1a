"""Shape rules of the ONNX ops: each node's output shapes from its input shapes, attributes (with the
spec's defaults, taken from the kernel's signature) and the values of small inputs known at load
(initializers, and shape arithmetic such as Shape -> Gather -> Concat -> Reshape).

A rule returns a list of output shapes (None: unknown) and checks on the way every piece of
geometry the kernel would trust: strides, dilations, kernel and pad sizes (ONNX Conv / pooling:
out = floor((in + pads - ((k - 1) * d + 1)) / s) + 1), group and channel counts, axes, reshape,
broadcast, expand, tile, pad, split, slice and resize parameters. A rule that finds the node
inconsistent raises `c.fail(detail, input_slot)`, which names the node and the tensor. Rules for
the data-movement ops are in shapes_tensor.py.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..shape_rules import MAX_WINDOW, RuleContext, Shape, axis_in, broadcast, registry
from .ops import conv as conv_ops
from .ops import pool as pool_ops

RULES, rule = registry()


class NodeContext(RuleContext):
    """What a rule may read: input shapes/values (None when unknown or omitted) and attributes."""

    def __init__(self, node, kernel_name: str, attrs: dict, shapes, values, n_out: int):
        self.node = node
        self.kernel_name = kernel_name  # e.g. "Resize_10": which schema version the node follows
        self.attrs = attrs
        self.shapes: List[Optional[Shape]] = list(shapes)
        self.values: List[Optional[np.ndarray]] = list(values)
        self.n_out = n_out
        self.scratches: List[Tuple[str, int]] = []  # (what, elements)
        self.out_values: Dict[int, np.ndarray] = {}  # values a rule computed itself (Shape, Size)

    def present(self, i: int) -> bool:
        return i < len(self.node.inputs) and bool(self.node.inputs[i])

    def shape(self, i: int) -> Optional[Shape]:
        return self.shapes[i] if i < len(self.shapes) else None

    def value(self, i: int) -> Optional[np.ndarray]:
        return self.values[i] if i < len(self.values) else None

    def ints(self, i: int) -> Optional[List[int]]:
        v = self.value(i)
        if v is None:
            return None
        if v.dtype.kind not in "iu":
            raise self.fail(f"holds {v.dtype} values where integers are expected", i)
        return [int(x) for x in v.reshape(-1)]

    def attr(self, name: str, default=None):
        v = self.attrs.get(name, default)
        return default if v is None else v



def bounded(c: NodeContext, name: str, values: Sequence[int], low: int = 1, high: int = MAX_WINDOW) -> List[int]:
    values = [int(v) for v in values]
    if any(not low <= v <= high for v in values):
        raise c.fail(f"{name} {values} must each be in {low}..{high}")
    return values


def _window_attrs(c: NodeContext, x: Shape, kernel: Sequence[int]):
    """Checked (strides, dilations, pads) of a Conv/pool node over the spatial dims of `x`."""
    n = len(kernel)
    strides = bounded(c, "strides", c.attr("strides") or [1] * n)
    dilations = bounded(c, "dilations", c.attr("dilations") or [1] * n)
    pads = c.attr("pads")
    if len(strides) != n or len(dilations) != n or (pads is not None and len(pads) != 2 * n):
        raise c.fail(f"strides {strides}, dilations {dilations} or pads {pads} do not fit a {n}-d kernel {list(kernel)}")
    if pads is not None:
        for i, p in enumerate(pads):
            eff = (kernel[i % n] - 1) * dilations[i % n] + 1
            if not 0 <= p <= x[2 + i % n] + eff:
                raise c.fail(f"pads {list(pads)} must be non-negative and at most the input plus the kernel "
                             f"({x[2 + i % n] + eff}) on each side")
    auto_pad = c.attr("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise c.fail(f"auto_pad {auto_pad!r} is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
    return strides, dilations, pads


def _conv(c: NodeContext, xi: int, wi: int, bi: Optional[int]):
    x, w = c.shape(xi), c.shape(wi)
    if x is None or w is None:
        return None
    if len(x) < 3 or len(w) != len(x):
        raise c.fail(f"input {x} and weights {w} must have the same rank, at least 3", wi)
    kernel = bounded(c, "kernel_shape", c.attr("kernel_shape") or w[2:])
    if list(kernel) != list(w[2:]):
        raise c.fail(f"kernel_shape {kernel} differs from the weights' {list(w[2:])}", wi)
    group = c.attr("group", 1)
    if group < 1 or w[1] * group != x[1] or w[0] % group:
        raise c.fail(f"weights {w} with group={group} do not fit an input of {x[1]} channels", wi)
    strides, dilations, pads = _window_attrs(c, x, kernel)
    try:
        g = conv_ops.geometry(x, w, c.attr("auto_pad", "NOTSET"), dilations, kernel, pads, strides)
    except ValueError as e:
        raise c.fail(str(e), xi) from None
    if bi is not None and c.present(bi) and c.shape(bi) is not None and c.shape(bi) != (w[0],):
        raise c.fail(f"bias has shape {c.shape(bi)}, expected ({w[0]},)", bi)
    padded = [x[2 + i] + g.pads[i] + g.pads[i + len(kernel)] for i in range(len(kernel))]
    c.scratch("padded input", x[:2] + tuple(padded))
    c.scratch("im2col columns", (x[0], x[1], math.prod(kernel), math.prod(g.out)))
    return [(x[0], w[0]) + tuple(g.out)]


@rule("Conv", "ConvInteger")
def conv(c):
    return _conv(c, 0, 1, 2 if c.node.op_type == "Conv" else None)


@rule("QLinearConv")
def qlinear_conv(c):
    return _conv(c, 0, 3, 8)


@rule("ConvTranspose")
def conv_transpose(c):
    x, w = c.shape(0), c.shape(1)
    if x is None or w is None:
        return None
    if len(x) < 3 or len(w) != len(x):
        raise c.fail(f"input {x} and weights {w} must have the same rank, at least 3", 1)
    n = len(x) - 2
    kernel = bounded(c, "kernel_shape", c.attr("kernel_shape") or w[2:])
    group = c.attr("group", 1)
    if group < 1 or w[0] != x[1] or x[1] % group:
        raise c.fail(f"weights {w} with group={group} do not fit an input of {x[1]} channels", 1)
    strides, dilations, pads = _window_attrs(c, x, kernel)
    out_pad = [int(v) for v in c.attr("output_padding") or [0] * n]
    if len(out_pad) != n or any(not 0 <= p < max(s, d) for p, s, d in zip(out_pad, strides, dilations)):
        raise c.fail(f"output_padding {out_pad} must be {n} values below the stride or dilation")
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [strides[i] * (x[2 + i] - 1) + out_pad[i] + eff[i] for i in range(n)]
    target = c.attr("output_shape")
    if target:
        target = [int(v) for v in target][-n:]
        if len(target) != n or any(t <= 0 for t in target):
            raise c.fail(f"output_shape {list(c.attr('output_shape'))} must end with {n} positive sizes")
        out = [max(t, 0) for t in target]
    elif c.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        out = [x[2 + i] * strides[i] for i in range(n)]
    elif pads is not None and c.attr("auto_pad", "NOTSET") != "VALID":
        out = [full[i] - pads[i] - pads[i + n] for i in range(n)]
    else:
        out = full
    if any(o <= 0 for o in out):
        raise c.fail(f"output size {out} is not positive", 0)
    if c.present(2) and c.shape(2) is not None and c.shape(2) != (w[1] * group,):
        raise c.fail(f"bias has shape {c.shape(2)}, expected ({w[1] * group},)", 2)
    c.scratch("tap contributions", (x[0], group, math.prod(x[2:]), w[1], math.prod(kernel)))
    c.scratch("full output", (x[0], w[1] * group) + tuple(max(f, o) for f, o in zip(full, out)))
    return [(x[0], w[1] * group) + tuple(out)]


@rule("MaxPool", "AveragePool")
def pool(c):
    x = c.shape(0)
    if x is None:
        return None
    if len(x) < 3:
        raise c.fail(f"input {x} must have rank 3 or more", 0)
    kernel = c.attr("kernel_shape")
    if not kernel or len(kernel) != len(x) - 2:
        raise c.fail(f"kernel_shape {kernel} must give {len(x) - 2} sizes")
    kernel = bounded(c, "kernel_shape", kernel)
    strides, dilations, pads = _window_attrs(c, x, kernel)
    kernel, strides, dilations, pads, extra = pool_ops._geometry(
        x, kernel, strides, dilations, c.attr("auto_pad", "NOTSET"), pads, c.attr("ceil_mode", 0))
    n = len(kernel)
    padded = [x[2 + i] + pads[i] + pads[i + n] + extra[i] for i in range(n)]
    out = [(padded[i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(n)]
    if any(o <= 0 for o in out):
        raise c.fail(f"kernel {kernel} with pads {pads} does not fit input {x}", 0)
    c.scratch("padded input", x[:2] + tuple(padded))
    return [x[:2] + tuple(out)] * c.n_out


@rule("GlobalAveragePool", "GlobalMaxPool")
def global_pool(c):
    x = c.shape(0)
    if x is None:
        return None
    if len(x) < 3:
        raise c.fail(f"input {x} must have rank 3 or more", 0)
    return [x[:2] + (1,) * (len(x) - 2)]


def _matmul(c: NodeContext, a: Optional[Shape], b: Optional[Shape], bi: int):
    if a is None or b is None:
        return None
    if not a or not b:
        raise c.fail(f"MatMul of a scalar: {a} x {b}", bi)
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise c.fail(f"operands {a} and {b} have inner dimensions {a2[-1]} and {b2[-2]}", bi)
    out = broadcast(c, [a2[:-2], b2[:-2]]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return [out]


@rule("MatMul", "MatMulInteger")
def matmul(c):
    return _matmul(c, c.shape(0), c.shape(1), 1)


@rule("QLinearMatMul")
def qlinear_matmul(c):
    return _matmul(c, c.shape(0), c.shape(3), 3)


@rule("Gemm")
def gemm(c):
    a, b = c.shape(0), c.shape(1)
    if a is None or b is None:
        return None
    if len(a) != 2 or len(b) != 2:
        raise c.fail(f"Gemm needs 2-D operands, got {a} and {b}", 0 if len(a) != 2 else 1)
    m, k = (a[1], a[0]) if c.attr("transA", 0) else a
    k2, n = (b[1], b[0]) if c.attr("transB", 0) else b
    if k != k2:
        raise c.fail(f"operands {a} and {b} (transA={c.attr('transA', 0)}, transB={c.attr('transB', 0)}) have "
                     f"inner dimensions {k} and {k2}", 1)
    if c.present(2) and c.shape(2) is not None and broadcast(c, [c.shape(2), (m, n)]) != (m, n):
        raise c.fail(f"C of shape {c.shape(2)} does not broadcast to ({m}, {n})", 2)
    return [(m, n)]


def _channels(c: NodeContext, x: Shape, slots: Sequence[int]) -> None:
    for i in slots:
        s = c.shape(i)
        if c.present(i) and s is not None and len(x) > 1 and math.prod(s) != x[1]:
            raise c.fail(f"has shape {s}; the input {x} has {x[1]} channels", i)


@rule("BatchNormalization")
def batch_norm(c):
    x = c.shape(0)
    if x is None:
        return None
    _channels(c, x, (1, 2, 3, 4))
    return [x] + [(x[1],)] * (c.n_out - 1)


@rule("InstanceNormalization")
def instance_norm(c):
    x = c.shape(0)
    if x is None:
        return None
    _channels(c, x, (1, 2))
    return [x]


@rule("LayerNormalization")
def layer_norm(c):
    x = c.shape(0)
    if x is None:
        return None
    a = axis_in(c, c.attr("axis", -1), len(x))
    for i in (1, 2):
        s = c.shape(i)
        if c.present(i) and s is not None and broadcast(c, [s, x[a:]]) != tuple(x[a:]):
            raise c.fail(f"has shape {s}, which does not broadcast to the normalised {x[a:]}", i)
    return [x] + [x[:a] + (1,) * (len(x) - a)] * (c.n_out - 1)


@rule("LRN")
def lrn(c):
    bounded(c, "size", [c.attr("size", 0)])
    return [c.shape(0)]


@rule("Softmax", "LogSoftmax")
def softmax(c):
    x = c.shape(0)
    if x:
        axis_in(c, c.attr("axis", -1), len(x))
    return [x]


@rule("QuantizeLinear", "DequantizeLinear")
def quant_linear(c):
    x, s = c.shape(0), c.shape(1)
    if x is not None and s is not None and len(s) == 1 and s[0] != 1 and not c.attr("block_size", 0):
        a = axis_in(c, c.attr("axis", 1), len(x))
        if x[a] != s[0]:
            raise c.fail(f"{s[0]} scales for axis {a} of {x}", 1)
    return [x]


@rule("DynamicQuantizeLinear")
def dynamic_quant(c):
    return [c.shape(0), (), ()]


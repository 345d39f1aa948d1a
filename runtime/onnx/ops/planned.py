"""Prepared kernels for nodes whose weight is a load-time constant: sparse (or exact) weight plans.

The kernels of this package are pure functions of their inputs. A node whose weight is known at
load (an initializer, or a constant-folded DequantizeLinear of one: the folded float weights keep
the pruned zeros) can do better: measure the weight once and choose how to multiply by it
(`runtime.sparse.plan_matmul`: dense, or a CSR / N:M / block layout when that is faster on this
device at this node's batch). Such an op names a `prepare` in the registry, which the interpreter
calls once per node after constant folding:

    prepare(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]

`attrs` are the node's attributes as the kernel takes them. When the result has a `run`, the
interpreter calls `run(*inputs)` for that node instead of the kernel: it takes the same inputs
(the constant ones are the arrays it was prepared with) and returns what the kernel returns. Float
results differ from the kernel's only in summation order; integer results are identical (the
plans' accumulators are exact).

Weight matrices follow runtime.sparse's convention W (out, in), y = x @ W.T:
  MatMul A @ B with B (K, N): W = B.T;  Gemm: W = B.T, or B itself when transB = 1;
  Conv with group = 1, through im2col: W.reshape(M, C * prod(kernel)), x the (pixels, C * prod(kernel)) patches;
  MatMulInteger, QLinearMatMul: W = (B - b_zero_point).T, x = A - a_zero_point;
  ConvInteger, QLinearConv with group = 1: W = (w - w_zero_point).reshape(M, -1), x the patches of x - x_zero_point.
Grouped and depthwise convolutions are not one matmul and keep their kernel. The integer plans are
exact_int with |x| <= 255 (8-bit inputs minus an 8-bit zero point); an input outside that contract
(a per-row zero point, a wider type) is run by the kernel.

Which weights get a plan: float weights with more than SPARSE_CANDIDATE_DENSITY non-zeros cannot
gain from a sparse layout (runtime/sparse/plan.py measures unstructured sparsity paying off from
~88 % zeros, blocks from ~50 %), so they keep the kernel without a plan and without the cost of
planning. Integer weights always get one, dense or not: its dense path computes in the cheapest
exact type (runtime/sparse/exact.py: float32 when no partial sum can exceed 2^24), where the
kernel always uses float64.

The batch a plan is timed at (the rows of x: MatMul's leading dimensions, a convolution's
N * output pixels) comes from `PrepareContext.input_shape`, the shapes one probe run of the graph
saw (see interpreter.py); without them MatMul and Gemm plan for one row and convolutions keep the
dense path. EDGEWISE_SPARSE=0 in the environment makes every plan dense (edgewise.runtime.sparse.sparse_enabled).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from ...records import Record
from ...sparse import PlanInfo, plan_matmul
from .conv import add_bias, check_channels, columns, geometry, padded, to_nchw
from .matmul import gemm_output
from .qlinear import (
    ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul, qlinear_conv_output, qlinear_matmul_output,
    weights_minus_zero, x_zero,
)

SPARSE_CANDIDATE_DENSITY = 0.5
EXACT_X_ABS_MAX = 255  # |q - zero_point| for 8-bit q and an 8-bit zero point


@dataclass(frozen=True)
class PrepareContext:
    """What a `prepare` function knows about its node at load."""

    source: str
    node: str  # the node's label, for plan names and errors
    op_type: str
    inputs: Tuple[str, ...]  # the node's input names ('' for an omitted optional input)
    consts: Tuple[Optional[np.ndarray], ...]  # per input: its value when known at load, else None
    sparse: bool  # False: plans are forced dense
    shapes: Callable[[], Optional[Dict[str, Tuple[int, ...]]]]  # tensor shapes of the probe run

    def input_shape(self, i: int) -> Optional[Tuple[int, ...]]:
        """The shape input i had in the probe run, None if unknown (runs the probe on first use)."""
        shapes = self.shapes()
        return None if shapes is None or i >= len(self.inputs) else shapes.get(self.inputs[i])

    def const(self, i: int) -> Optional[np.ndarray]:
        return self.consts[i] if i < len(self.consts) else None

    def plan_name(self, i: int) -> str:
        return f"{self.source}: {self.op_type} {self.node!r} weights {self.inputs[i]!r}"


@dataclass(frozen=True)
class Prepared:
    run: Optional[Callable]  # replaces the kernel for this node; None: the kernel stays
    plan: Optional[PlanInfo]  # the weight plan made for the node, if any


@dataclass(frozen=True)
class WeightPlan(Record):
    """One planned node, as the interpreter lists them (`Interpreter.weight_plans`)."""

    op_type: str
    node: str
    plan: PlanInfo


def _float_candidate(ctx: PrepareContext, w: np.ndarray) -> bool:
    return (ctx.sparse and w.dtype in (np.float32, np.float64) and w.size > 0
            and np.count_nonzero(w) <= SPARSE_CANDIDATE_DENSITY * w.size)


def _float_plan(ctx: PrepareContext, i: int, w: np.ndarray, rows: int):
    """The plan and its description; a dense plan is then dropped (the kernel is as fast)."""
    plan = plan_matmul(np.ascontiguousarray(w), exact_int=False, batch_hint=max(1, rows), name=ctx.plan_name(i))
    return plan, plan.describe()


def _int_plan(ctx: PrepareContext, i: int, w: np.ndarray, batch: Callable[[], Optional[int]]):
    """An exact plan; timed for a sparse layout (at `batch()` rows) only if W is sparse enough."""
    sparse = ctx.sparse and np.count_nonzero(w) <= SPARSE_CANDIDATE_DENSITY * w.size
    rows = batch() if sparse else None
    kind = "auto" if rows is not None else "dense"
    return plan_matmul(np.ascontiguousarray(w), exact_int=True, x_abs_max=EXACT_X_ABS_MAX, kind=kind,
                       batch_hint=max(1, rows or 1), name=ctx.plan_name(i))


def _rows_or_none(ctx: PrepareContext) -> Optional[int]:
    s = ctx.input_shape(0)
    return None if s is None else max(1, math.prod(s[:-1]))


def _conv_rows(ctx: PrepareContext, w_shape, geo: dict) -> Optional[int]:
    s = ctx.input_shape(0)
    if s is None:
        return None
    return s[0] * math.prod(geometry(s, w_shape, **geo).out)


def _geo(attrs: dict) -> dict:
    geo = {k: attrs.get(k) for k in ("dilations", "kernel_shape", "pads", "strides")}
    geo["auto_pad"] = attrs.get("auto_pad", "NOTSET")
    return geo


def _patches(cols: np.ndarray) -> np.ndarray:
    """(N, 1, K, P) channel-major columns -> the (N * P, K) patch rows a plan multiplies."""
    N, _, K, P = cols.shape
    return cols.reshape(N, K, P).swapaxes(1, 2).reshape(N * P, K)


# -- float ------------------------------------------------------------------------------------


def prepare_matmul(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    b = ctx.const(1)
    if b is None or b.ndim != 2 or not _float_candidate(ctx, b):
        return None
    s = ctx.input_shape(0)
    plan, info = _float_plan(ctx, 1, b.T, 1 if s is None else math.prod(s[:-1]))
    if plan.kind == "dense":
        return Prepared(None, info)
    n_out = b.shape[1]

    def run(A, B):
        y = plan(A.reshape(-1, A.shape[-1]))
        return y.reshape(A.shape[:-1] + (n_out,)).astype(A.dtype, copy=False)

    return Prepared(run, info)


def prepare_gemm(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    b = ctx.const(1)
    if b is None or b.ndim != 2:
        return None
    w = b if attrs.get("transB", 0) else b.T
    if not _float_candidate(ctx, w):
        return None
    transA = attrs.get("transA", 0)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    s = ctx.input_shape(0)
    plan, info = _float_plan(ctx, 1, w, 1 if s is None or len(s) != 2 else s[1 if transA else 0])
    if plan.kind == "dense":
        return Prepared(None, info)

    def run(A, B, C=None):
        return gemm_output(plan(A.T if transA else A), A.dtype, C, alpha, beta)

    return Prepared(run, info)


def prepare_conv(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    W = ctx.const(1)
    if W is None or W.ndim < 3 or attrs.get("group", 1) != 1:
        return None
    M = W.shape[0]
    w = W.reshape(M, -1)
    if not _float_candidate(ctx, w):
        return None
    geo = _geo(attrs)
    rows = _conv_rows(ctx, W.shape, geo)
    if rows is None:
        return None
    plan, info = _float_plan(ctx, 1, w, rows)
    if plan.kind == "dense":
        return Prepared(None, info)

    def run(X, W, B=None):
        g = geometry(X.shape, W.shape, **geo)
        check_channels(X.shape[1], W.shape, 1)
        N = X.shape[0]
        y = plan(_patches(columns(padded(X, g), g, 1)))
        return add_bias(to_nchw(y.reshape(N, 1, -1, M), N, M, g.out), B).astype(X.dtype, copy=False)

    return Prepared(run, info)


# -- exact integer ------------------------------------------------------------------------------


def _is_8bit(x) -> bool:
    return x.dtype.kind in "iu" and x.dtype.itemsize == 1


def _scalar(zp) -> bool:
    return zp is None or np.size(zp) == 1


def _int_matmul_plan(ctx: PrepareContext, b_index: int, zp_index: int):
    b = ctx.const(b_index)
    has_zp = zp_index < len(ctx.inputs) and ctx.inputs[zp_index]
    zp = ctx.const(zp_index) if has_zp else None
    if b is None or b.ndim != 2 or not _is_8bit(b) or (has_zp and zp is None):
        return None
    w = (b.astype(np.int32) - (0 if zp is None else np.asarray(zp).astype(np.int32))).T
    return _int_plan(ctx, b_index, w, lambda: _rows_or_none(ctx) or 1)


def _int_matmul_acc(plan, A, a_zero_point, n_out):
    x = A.reshape(-1, A.shape[-1]).astype(np.int16)
    if a_zero_point is not None:
        x -= np.int16(x_zero(a_zero_point))
    return plan(x).reshape(A.shape[:-1] + (n_out,)).astype(np.int32)


def prepare_matmul_integer(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    plan = _int_matmul_plan(ctx, 1, 3)
    if plan is None:
        return None
    n_out = plan.shape[0]

    def run(A, B, a_zero_point=None, b_zero_point=None):
        if not (_is_8bit(A) and _scalar(a_zero_point)):
            return MatMulInteger(A, B, a_zero_point, b_zero_point)
        return _int_matmul_acc(plan, A, a_zero_point, n_out)

    return Prepared(run, plan.describe())


def prepare_qlinear_matmul(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    plan = _int_matmul_plan(ctx, 3, 5)
    if plan is None:
        return None
    n_out = plan.shape[0]

    def run(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
        if not (_is_8bit(a) and _scalar(a_zero_point)):
            return QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point)
        acc = _int_matmul_acc(plan, a, a_zero_point, n_out)
        return qlinear_matmul_output(acc, a_scale, b_scale, y_scale, y_zero_point)

    return Prepared(run, plan.describe())


def _int_conv_plan(ctx: PrepareContext, attrs: dict, w_index: int, zp_index: int):
    W = ctx.const(w_index)
    has_zp = zp_index < len(ctx.inputs) and ctx.inputs[zp_index]
    zp = ctx.const(zp_index) if has_zp else None
    if W is None or W.ndim < 3 or not _is_8bit(W) or attrs.get("group", 1) != 1 or (has_zp and zp is None):
        return None
    w = weights_minus_zero(W, zp).reshape(W.shape[0], -1)
    return _int_plan(ctx, w_index, w, lambda: _conv_rows(ctx, W.shape, _geo(attrs)))


def _int_conv_acc(plan, geo: dict, x, w_shape, x_zero_point):
    g = geometry(x.shape, w_shape, **geo)
    check_channels(x.shape[1], w_shape, 1)
    xs = x.astype(np.int16)
    if x_zero_point is not None:
        xs -= np.int16(x_zero(x_zero_point))
    N, M = x.shape[0], w_shape[0]
    acc = plan(_patches(columns(padded(xs, g), g, 1)))
    return to_nchw(acc.reshape(N, 1, -1, M), N, M, g.out)


def prepare_conv_integer(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    plan = _int_conv_plan(ctx, attrs, 1, 3)
    if plan is None:
        return None
    geo = _geo(attrs)

    def run(x, w, x_zero_point=None, w_zero_point=None):
        if not (_is_8bit(x) and _scalar(x_zero_point)):
            return ConvInteger(x, w, x_zero_point, w_zero_point, **attrs)
        return _int_conv_acc(plan, geo, x, w.shape, x_zero_point).astype(np.int32)

    return Prepared(run, plan.describe())


def prepare_qlinear_conv(ctx: PrepareContext, attrs: dict) -> Optional[Prepared]:
    plan = _int_conv_plan(ctx, attrs, 3, 5)
    if plan is None:
        return None
    geo = _geo(attrs)

    def run(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None):
        if not (_is_8bit(x) and _scalar(x_zero_point)):
            return QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B,
                               **attrs)
        acc = _int_conv_acc(plan, geo, x, w.shape, x_zero_point)
        return qlinear_conv_output(acc, x_scale, w_scale, y_scale, y_zero_point, B)

    return Prepared(run, plan.describe())

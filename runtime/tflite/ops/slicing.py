"""STRIDED_SLICE, SLICE, TRANSPOSE, GATHER: indexing ops, no arithmetic on values.

STRIDED_SLICE's masks map one-to-one onto NumPy basic indexing (begin/end masks -> open slice ends,
shrink_axis -> an integer index, new_axis -> np.newaxis, ellipsis -> Ellipsis), which also gives
TensorFlow's clamping of out-of-range bounds.
"""
from __future__ import annotations

import numpy as np

from .registry import register, register_fused


def strided_slice_index(begin, end, strides, begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask,
                        offset):
    index = []
    for i in range(len(begin)):
        bit = 1 << i
        if ellipsis_mask & bit:
            index.append(Ellipsis)
        elif new_axis_mask & bit:
            index.append(np.newaxis)
        elif shrink_mask & bit:
            index.append(int(begin[i]))
        else:
            b = None if begin_mask & bit else int(begin[i])
            e = None if end_mask & bit else int(end[i]) + (int(begin[i]) if offset else 0)
            index.append(slice(b, e, int(strides[i])))
    return tuple(index)


@register("STRIDED_SLICE")
def build_strided_slice(ctx):
    o = ctx.options
    masks = (o["begin_mask"], o["end_mask"], o["ellipsis_mask"], o["new_axis_mask"], o["shrink_axis_mask"],
             bool(o.get("offset", False)))
    strides = ctx.const(3)
    if strides is not None and np.any(strides == 0):
        raise ctx.unsupported("a stride of 0")

    def run(ins):
        idx = strided_slice_index(ins[1].reshape(-1), ins[2].reshape(-1), ins[3].reshape(-1), *masks)
        return [np.array(ins[0][idx])]

    return run


@register("SLICE")
def build_slice(ctx):
    def run(ins):
        x = ins[0]
        begin, size = ins[1].reshape(-1), ins[2].reshape(-1)
        idx = tuple(slice(int(b), x.shape[i] if s == -1 else int(b) + int(s)) for i, (b, s) in enumerate(zip(begin, size)))
        return [np.array(x[idx])]

    return run


@register("TRANSPOSE")
def build_transpose(ctx):
    fixed = ctx.const(1)
    perm = None if fixed is None else [int(p) for p in fixed.reshape(-1)]

    def run(ins):
        p = perm if perm is not None and ins[1] is fixed else [int(v) for v in ins[1].reshape(-1)]
        return [np.ascontiguousarray(np.transpose(ins[0], p))]

    return run


@register("GATHER")
def build_gather(ctx):
    axis = int(ctx.options.get("axis", 0))
    batch_dims = int(ctx.options.get("batch_dims", 0))
    if batch_dims != 0:
        raise ctx.unsupported(f"batch_dims={batch_dims}")

    int32 = np.dtype(np.int32)

    def run(ins):
        x, idx = ins[0], ins[1]
        a = axis % x.ndim
        if idx.dtype != int32:
            if idx.size and (idx.min() < 0 or idx.max() >= x.shape[a]):
                raise IndexError(f"GATHER index out of range [0, {x.shape[a]})")
            return [np.take(x, idx.astype(np.int64), axis=a)]
        u = idx.view(np.uint32)  # a negative index reads as >= 2^31: NumPy's bounds check is LiteRT's
        try:
            return [x[u] if a == 0 else np.take(x, u, axis=a)]
        except IndexError:
            raise IndexError(f"GATHER index out of range [0, {x.shape[a]})") from None

    return run


@register_fused("EDGEWISE_GATHER")
def build_gather_wrapped(ctx):
    """GATHER whose indices in [-N, 0) count from the end (passes/fuse_gather_wrap.py): NumPy's own
    indexing, which raises for any index outside [-N, N)."""
    axis = int(ctx.options.get("axis", 0))

    def run(ins):
        x, idx = ins[0], ins[1]
        a = axis % x.ndim
        try:
            return [x[idx] if a == 0 else np.take(x, idx, axis=a)]
        except IndexError:
            raise IndexError(f"GATHER index out of range [-{x.shape[a]}, {x.shape[a]})") from None

    return run

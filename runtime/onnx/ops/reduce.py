"""Reductions. Axes come from an attribute before ReduceSum-13 / ReduceMean-18, from an input after;
an empty axes list reduces everything unless noop_with_empty_axes."""
from __future__ import annotations

import numpy as np

from ._util import norm_axes


def _axes(data, axes, noop):
    if axes is None or np.asarray(axes).size == 0:
        return () if noop else None
    return norm_axes(axes, data.ndim)


def _reduce(fn, data, axes, keepdims, noop):
    a = _axes(data, axes, noop)
    if a == ():
        return data
    return fn(data, axis=a, keepdims=bool(keepdims)).astype(data.dtype, copy=False)


def ReduceSum(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(np.sum, data, axes, keepdims, noop_with_empty_axes)


def ReduceMean(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(np.mean, data, axes, keepdims, noop_with_empty_axes)


def _extreme(data, largest):
    """The identity of max (min) over an empty set: the lowest (highest) value of the type."""
    if data.dtype == np.bool_:
        return not largest
    if data.dtype.kind == "f":
        return -np.inf if largest else np.inf
    info = np.iinfo(data.dtype)
    return info.min if largest else info.max


def ReduceMax(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    def fn(x, axis, keepdims):
        return np.max(x, axis=axis, keepdims=keepdims, initial=_extreme(x, True)) if x.size == 0 else \
            np.max(x, axis=axis, keepdims=keepdims)

    return _reduce(fn, data, axes, keepdims, noop_with_empty_axes)


def ReduceMin(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    def fn(x, axis, keepdims):
        return np.min(x, axis=axis, keepdims=keepdims, initial=_extreme(x, False)) if x.size == 0 else \
            np.min(x, axis=axis, keepdims=keepdims)

    return _reduce(fn, data, axes, keepdims, noop_with_empty_axes)


def ReduceSum_1(data, *, axes=None, keepdims=1):
    return ReduceSum(data, None if axes is None else np.asarray(axes), keepdims=keepdims)


def ReduceMean_1(data, *, axes=None, keepdims=1):
    return ReduceMean(data, None if axes is None else np.asarray(axes), keepdims=keepdims)


def ReduceMax_1(data, *, axes=None, keepdims=1):
    return ReduceMax(data, None if axes is None else np.asarray(axes), keepdims=keepdims)


def ReduceMin_1(data, *, axes=None, keepdims=1):
    return ReduceMin(data, None if axes is None else np.asarray(axes), keepdims=keepdims)


def _sum_square(x, axis, keepdims):
    return np.sum(x * x, axis=axis, keepdims=keepdims)


def _l1(x, axis, keepdims):
    return np.sum(np.abs(x), axis=axis, keepdims=keepdims)


def _l2(x, axis, keepdims):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def _log_sum(x, axis, keepdims):
    return np.log(np.sum(x, axis=axis, keepdims=keepdims))


def _log_sum_exp(x, axis, keepdims):
    """log(sum(exp(x))) shifted by the max, so that large inputs do not overflow."""
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def ReduceProd(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(np.prod, data, axes, keepdims, noop_with_empty_axes)


def ReduceSumSquare(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(_sum_square, data, axes, keepdims, noop_with_empty_axes)


def ReduceL1(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(_l1, data, axes, keepdims, noop_with_empty_axes)


def ReduceL2(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(_l2, data, axes, keepdims, noop_with_empty_axes)


def ReduceLogSum(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(_log_sum, data, axes, keepdims, noop_with_empty_axes)


def ReduceLogSumExp(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    return _reduce(_log_sum_exp, data, axes, keepdims, noop_with_empty_axes)


def _with_attr_axes(fn):
    """The opset < 13/18 form of a reduction: axes as an attribute instead of an input."""

    def kernel(data, *, axes=None, keepdims=1):
        return fn(data, None if axes is None else np.asarray(axes), keepdims=keepdims)

    kernel.__name__ = fn.__name__ + "_1"
    kernel.__doc__ = fn.__doc__
    return kernel


ReduceProd_1 = _with_attr_axes(ReduceProd)
ReduceSumSquare_1 = _with_attr_axes(ReduceSumSquare)
ReduceL1_1 = _with_attr_axes(ReduceL1)
ReduceL2_1 = _with_attr_axes(ReduceL2)
ReduceLogSum_1 = _with_attr_axes(ReduceLogSum)
ReduceLogSumExp_1 = _with_attr_axes(ReduceLogSumExp)


def _arg(fn, data, axis, keepdims, select_last_index):
    a = axis % data.ndim if data.ndim else 0
    if select_last_index:
        flipped = np.flip(data, axis=a)
        idx = data.shape[a] - 1 - fn(flipped, axis=a)
    else:
        idx = fn(data, axis=a)
    idx = idx.astype(np.int64)
    return np.expand_dims(idx, a) if keepdims else idx


def ArgMax(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(np.argmax, data, axis, keepdims, select_last_index)


def ArgMin(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(np.argmin, data, axis, keepdims, select_last_index)

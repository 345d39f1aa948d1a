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

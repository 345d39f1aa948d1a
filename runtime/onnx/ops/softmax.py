"""Softmax and LogSoftmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1) and
normalised over the flattened trailing dimensions; from 13 on, over the single `axis` (default -1)."""
from __future__ import annotations

import numpy as np

from ._util import norm_axis


def _softmax(x, axes, log):
    # the ufuncs' own reductions (what np.sum calls, without its Python layer), in place; fmax skips
    # NaNs, faster on short rows, and a row holding one comes out all NaN either way
    e = np.subtract(x, np.fmax.reduce(x, axis=axes, keepdims=True))
    if log:
        return e - np.log(np.add.reduce(np.exp(e), axis=axes, keepdims=True))
    p = np.exp(e, out=e)
    p /= np.add.reduce(p, axis=axes, keepdims=True)
    return p


def Softmax(input, *, axis=-1):
    return _softmax(input, norm_axis(axis, input.ndim), False)


def LogSoftmax(input, *, axis=-1):
    return _softmax(input, norm_axis(axis, input.ndim), True)


def Softmax_1(input, *, axis=1):
    a = norm_axis(axis, input.ndim)
    return _softmax(input, tuple(range(a, input.ndim)), False)


def LogSoftmax_1(input, *, axis=1):
    a = norm_axis(axis, input.ndim)
    return _softmax(input, tuple(range(a, input.ndim)), True)

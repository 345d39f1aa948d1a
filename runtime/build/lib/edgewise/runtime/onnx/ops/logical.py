"""Comparisons, boolean logic, Where and CastLike (the ops ONNX function bodies lean on)."""
from __future__ import annotations

import numpy as np

from .tensor import Cast
from .. import dtypes


def Equal(A, B):
    return np.equal(A, B)


def Less(A, B):
    return np.less(A, B)


def LessOrEqual(A, B):
    return np.less_equal(A, B)


def Greater(A, B):
    return np.greater(A, B)


def GreaterOrEqual(A, B):
    return np.greater_equal(A, B)


def Not(X):
    return np.logical_not(X)


def And(A, B):
    return np.logical_and(A, B)


def Or(A, B):
    return np.logical_or(A, B)


def Xor(A, B):
    return np.logical_xor(A, B)


def Where(condition, X, Y):
    return np.where(condition, X, Y)


def CastLike(input, target_type, *, saturate=1, round_mode="up"):
    code = dtypes.BY_NUMPY.get(target_type.dtype.name)
    if code is None:
        raise NotImplementedError(f"CastLike to {target_type.dtype}")
    return Cast(input, to=code, saturate=saturate)

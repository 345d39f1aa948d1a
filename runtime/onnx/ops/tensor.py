"""Ops that make or convert tensors: Constant, ConstantOfShape, Cast, Pad, Dropout (inference)."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ._util import pad_constant


def Constant(*, value=None, sparse_value=None, value_float=None, value_floats=None, value_int=None, value_ints=None,
             value_string=None, value_strings=None):
    if value is not None:
        return value
    if sparse_value is not None:
        return sparse_value.dense()
    if value_float is not None:
        return np.array(value_float, np.float32)
    if value_floats is not None:
        return np.array(value_floats, np.float32)
    if value_int is not None:
        return np.array(value_int, np.int64)
    if value_ints is not None:
        return np.array(value_ints, np.int64)
    if value_string is not None:
        return np.array(value_string, dtype=object)
    if value_strings is not None:
        return np.array(value_strings, dtype=object)
    raise ValueError("Constant has no value attribute")


def ConstantOfShape(input, *, value=None):
    v = np.zeros(1, np.float32) if value is None else value
    return np.full(tuple(int(d) for d in input), v.reshape(-1)[0], v.dtype)


def numpy_dtype(code: int) -> np.dtype:
    t = dtypes.elem_type(code)
    if t is None or code not in dtypes.NATIVE or code == 8:
        raise NotImplementedError(f"element type {dtypes.name_of(code)} is not supported")
    return np.dtype(t.numpy)


def Cast(input, *, to=None, saturate=1, round_mode="up"):
    """Float to integer truncates toward zero (C semantics); to bool is `!= 0`."""
    dt = numpy_dtype(int(to))
    if dt == np.bool_:
        return input != 0
    if input.dtype.kind == "f" and dt.kind in "iu":
        with np.errstate(invalid="ignore"):
            return np.trunc(input).astype(dt)
    return input.astype(dt)


def Dropout(data, ratio=None, training_mode=None, *, seed=None):
    """Inference: the identity, with an all-true mask as the optional second output."""
    if training_mode is not None and bool(np.asarray(training_mode)):
        raise NotImplementedError("training_mode=True is not supported: the runtime does inference only")
    return data, np.ones(data.shape, bool)


def Dropout_7(data, *, ratio=0.5, is_test=0):
    return Dropout(data)


def Pad(data, pads, constant_value=None, axes=None, *, mode="constant"):
    rank = data.ndim
    p = [int(v) for v in pads]
    axes = list(range(rank)) if axes is None else [a % rank for a in (int(v) for v in axes)]
    k = len(axes)
    widths = [[0, 0] for _ in range(rank)]
    for i, a in enumerate(axes):
        widths[a] = [p[i], p[i + k]]
    crop = tuple(slice(-b if b < 0 else 0, (data.shape[i] + e) if e < 0 else None)
                 for i, (b, e) in enumerate(widths))
    x = data[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in widths]
    if mode == "constant":
        cv = 0 if constant_value is None or np.asarray(constant_value).size == 0 else np.asarray(constant_value).item()
        return pad_constant(x, widths, cv)
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "edge":
        return np.pad(x, widths, mode="edge")
    if mode == "wrap":
        return np.pad(x, widths, mode="wrap")
    raise ValueError(f"Pad mode {mode!r} is not constant, reflect, edge or wrap")


def Pad_2(data, *, mode="constant", pads=(), value=0.0):
    return Pad(data, np.asarray(pads), np.array(value, data.dtype), mode=mode)

"""QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.

y = saturate(round_half_to_even(x / y_scale) + y_zero_point); x = (q - zero_point) * scale.
Scales are per tensor (scalar), per axis (1-D along `axis`) or blocked (`block_size` along
`axis`). Arithmetic is float32 with a true division, as onnxruntime's MLAS kernels do, so the
integers match exactly.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import dtypes
from ._util import norm_axis

_INT_TYPES = {2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32}


def _broadcast(param, x, axis, block_size):
    """Reshape/repeat a scale or zero point so that it broadcasts against x."""
    if type(param) is np.ndarray and param.ndim == 0:
        return param
    p = np.asarray(param)
    if p.ndim == 0 or p.size == 1 and x.ndim == 0:
        return p.reshape(())
    a = norm_axis(axis, x.ndim)
    if block_size:
        rep = np.repeat(p, block_size, axis=a)
        return rep[tuple(slice(0, x.shape[i]) for i in range(x.ndim))]
    if p.ndim != 1 or p.shape[0] != x.shape[a]:
        raise ValueError(f"scale of shape {p.shape} does not match axis {axis} of input {x.shape}")
    shape = [1] * x.ndim
    shape[a] = -1
    return p.reshape(shape)


def _out_type(y_zero_point, output_dtype):
    if output_dtype:
        if output_dtype not in _INT_TYPES:
            raise NotImplementedError(f"output_dtype {dtypes.name_of(output_dtype)} is not supported")
        return np.dtype(_INT_TYPES[output_dtype])
    if y_zero_point is None:
        return np.dtype(np.uint8)
    if y_zero_point.dtype.kind not in "iu":
        raise NotImplementedError(f"zero point type {y_zero_point.dtype} is not supported")
    return y_zero_point.dtype


@functools.lru_cache(maxsize=None)
def _limits(dt: np.dtype):
    info = np.iinfo(dt)
    return int(info.min), int(info.max)


def saturate_cast(v: np.ndarray, dt: np.dtype) -> np.ndarray:
    lo, hi = _limits(dt)
    return np.clip(v, lo, hi).astype(dt)


def _saturate_in_place(q: np.ndarray, dt: np.dtype) -> np.ndarray:
    """saturate_cast for a float array we own: clamped in place (one pass), then one conversion."""
    lo, hi = _limits(dt)
    t = q.dtype.type
    q.clip(t(lo), t(hi), out=q)
    return q.astype(dt)


def QuantizeLinear(x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, precision=0, saturate=1):
    """The zero point is added in x's float type when that is exact for every value that survives
    saturation (float32/64 and outputs of at most 16 bits: |q + zp| <= 2^17 < 2^24), else in float64."""
    dt = _out_type(y_zero_point, output_dtype)
    if y_scale.dtype != np.float32 and x.dtype == np.float32:
        y_scale = y_scale.astype(np.float32)
    scale = _broadcast(y_scale, x, axis, block_size)
    q = np.divide(x, scale, dtype=np.result_type(x, scale))
    np.rint(q, out=q)
    if y_zero_point is not None:
        zp = _broadcast(y_zero_point, x, axis, block_size)
        if q.dtype in (np.float32, np.float64) and dt.itemsize <= 2 and q.shape == x.shape:
            q += zp.astype(q.dtype)
        else:
            q = q + zp.astype(np.float64)
    return _saturate_in_place(q, dt)


def QuantizeLinear_10(x, y_scale, y_zero_point=None):
    return QuantizeLinear(x, y_scale, y_zero_point)


def DequantizeLinear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    if x.dtype.kind not in "iu":
        raise NotImplementedError(f"input type {x.dtype} is not supported")
    scale = _broadcast(x_scale, x, axis, block_size)
    zp = None if x_zero_point is None else _broadcast(x_zero_point, x, axis, block_size)
    if x.dtype.itemsize <= 2 and scale.dtype in (np.float32, np.float64):
        # q - zp (|q - zp| < 2^17) is exact in float32: the same values as the int64 path, fewer passes.
        y = x.astype(scale.dtype)
        if zp is not None:
            y -= zp.astype(scale.dtype)
        y *= scale
    else:
        q = x.astype(np.int64)
        if zp is not None:
            q = q - zp.astype(np.int64)
        y = q.astype(scale.dtype) * scale
    if output_dtype:
        y = y.astype(dtypes.elem_type(output_dtype).numpy)
    return y


def DequantizeLinear_10(x, x_scale, x_zero_point=None):
    return DequantizeLinear(x, x_scale, x_zero_point)


def DynamicQuantizeLinear(x):
    """uint8 with a range that always includes 0: scale = (max(x,0) - min(x,0)) / 255,
    zero_point = saturate(round(-min / scale))."""
    f = np.float32
    lo = min(f(0), f(x.min())) if x.size else f(0)
    hi = max(f(0), f(x.max())) if x.size else f(0)
    scale = f((hi - lo) / f(255))
    if scale == 0:
        zp = np.uint8(0)
        y = np.zeros(x.shape, np.uint8)
    else:
        zp = saturate_cast(np.rint(f(0) - lo / scale), np.dtype(np.uint8))
        y = saturate_cast(np.rint(x / scale) + f(zp), np.dtype(np.uint8))
    return y, np.array(scale, np.float32), np.array(zp, np.uint8)

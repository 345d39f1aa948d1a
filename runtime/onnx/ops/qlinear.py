"""Integer convolutions and matmuls: ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul.

Accumulation is exact int32 semantics. The products of two 8-bit values minus zero points are at
most 255 * 255 in magnitude, so a float64 matmul is exact while the sum stays under 2**53
(K < 1.3e11 terms): we use BLAS in float64 and convert back. Requantisation follows onnxruntime:
multiplier = x_scale * w_scale / y_scale in float32, y = saturate(round_half_even(acc * multiplier) + y_zp).
"""
from __future__ import annotations

import numpy as np

from .conv import conv_nchw, geometry
from .quant import saturate_cast


def _zp(zp):
    return np.zeros((), np.int64) if zp is None else np.asarray(zp).astype(np.int64)


def x_zero(x_zero_point) -> int:
    """The input's zero point as a Python int (per tensor: one value)."""
    return int(_zp(x_zero_point).reshape(()))


def weights_minus_zero(w, w_zero_point) -> np.ndarray:
    """w - w_zero_point in int32, the zero point per tensor or per output channel (axis 0)."""
    wz = _zp(w_zero_point)
    shift = wz.reshape((-1,) + (1,) * (w.ndim - 1)) if wz.ndim and wz.size > 1 else wz.reshape(())
    return (w.astype(np.int64) - shift).astype(np.int32)


def _int_conv(x, w, x_zero_point, w_zero_point, auto_pad, dilations, group, kernel_shape, pads, strides):
    g = geometry(x.shape, w.shape, auto_pad, dilations, kernel_shape, pads, strides)
    M = w.shape[0]
    xs = x.astype(np.float64) - float(x_zero(x_zero_point))
    ws = weights_minus_zero(w, w_zero_point).astype(np.float64)
    return conv_nchw(xs, ws.reshape(group, M // group, -1), g, group).astype(np.int64)


def ConvInteger(x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                kernel_shape=None, pads=None, strides=None):
    return _int_conv(x, w, x_zero_point, w_zero_point, auto_pad, dilations, group, kernel_shape, pads,
                     strides).astype(np.int32)


def MatMulInteger(A, B, a_zero_point=None, b_zero_point=None):
    """a_zero_point may be per row of A (1-D of A's rows); b_zero_point per column of B."""
    a = A.astype(np.float64)
    if a_zero_point is not None:
        az = np.asarray(a_zero_point).astype(np.float64)
        a = a - (az.reshape(-1, 1) if az.ndim == 1 and az.size > 1 else az.reshape(()))
    b = B.astype(np.float64) - (np.asarray(b_zero_point).astype(np.float64) if b_zero_point is not None else 0.0)
    return np.matmul(a, b).astype(np.int64).astype(np.int32)


def _requantize(acc, multiplier, y_zero_point):
    dt = y_zero_point.dtype if y_zero_point is not None else np.dtype(np.uint8)
    y = np.rint(acc.astype(np.float32) * multiplier)
    if y_zero_point is not None:
        y = y + y_zero_point.astype(np.float32)
    return saturate_cast(y, dt)


def qlinear_conv_output(acc, x_scale, w_scale, y_scale, y_zero_point, B):
    """QLinearConv from its exact accumulator acc (N, M, *out): + bias, int32, requantised."""
    if B is not None:
        acc = acc + B.astype(np.int64).reshape((1, -1) + (1,) * (acc.ndim - 2))
    acc = acc.astype(np.int32)
    ws = np.asarray(w_scale, np.float32)
    mult = (np.float32(x_scale) * ws / np.float32(y_scale)).astype(np.float32)
    if mult.ndim and mult.size > 1:
        mult = mult.reshape((1, -1) + (1,) * (acc.ndim - 2))
    else:
        mult = mult.reshape(())
    return _requantize(acc, mult, y_zero_point)


def QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    acc = _int_conv(x, w, x_zero_point, w_zero_point, auto_pad, dilations, group, kernel_shape, pads, strides)
    return qlinear_conv_output(acc, x_scale, w_scale, y_scale, y_zero_point, B)


def qlinear_matmul_output(acc, a_scale, b_scale, y_scale, y_zero_point):
    """QLinearMatMul from its int32 accumulator: requantised with a_scale * b_scale / y_scale."""
    mult = (np.asarray(a_scale, np.float32) * np.asarray(b_scale, np.float32) / np.asarray(y_scale, np.float32))
    return _requantize(acc, mult.astype(np.float32), y_zero_point)


def QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    acc = MatMulInteger(a, b, a_zero_point, b_zero_point)
    return qlinear_matmul_output(acc, a_scale, b_scale, y_scale, y_zero_point)

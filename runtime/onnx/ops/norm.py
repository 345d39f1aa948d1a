"""Normalisations: BatchNormalization (inference), LayerNormalization, LRN."""
from __future__ import annotations

import numpy as np

from ._util import norm_axis


def BatchNormalization(X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, training_mode=0):
    """Inference form (Ioffe & Szegedy, 2015): y = (x - mean) / sqrt(var + eps) * scale + B."""
    if training_mode:
        raise NotImplementedError("training_mode=1 is not supported: the runtime does inference only")
    shape = (1, -1) + (1,) * (X.ndim - 2)
    t = X.dtype.type
    inv = (scale / np.sqrt(input_var + t(epsilon))).reshape(shape)
    return ((X - input_mean.reshape(shape)) * inv + B.reshape(shape)).astype(X.dtype, copy=False)


def BatchNormalization_9(X, scale, B, mean, var, *, epsilon=1e-5, momentum=0.9):
    return BatchNormalization(X, scale, B, mean, var, epsilon=epsilon)


def LayerNormalization(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """Ba et al., 2016: normalise over dims [axis, rank); outputs Y, Mean, InvStdDev (float32 stash)."""
    a = norm_axis(axis, X.ndim)
    axes = tuple(range(a, X.ndim))
    x = X.astype(np.float32) if stash_type == 1 else X
    if x.dtype not in (np.float32, np.float64):  # np.mean sums float16 in float32: keep its own path
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        inv = 1 / np.sqrt((d * d).mean(axis=axes, keepdims=True) + x.dtype.type(epsilon))
        y = (d * inv).astype(X.dtype) * Scale
        return (y if B is None else y + B).astype(X.dtype, copy=False), mean, inv
    t = x.dtype.type
    n = t(np.prod([x.shape[i] for i in axes]))
    # np.mean's arithmetic (add.reduce, then a division by the count) without its Python layer
    mean = np.add.reduce(x, axis=axes, keepdims=True)
    mean /= n
    d = x - mean
    var = np.add.reduce(np.multiply(d, d), axis=axes, keepdims=True)
    var /= n
    var += t(epsilon)
    inv = np.divide(t(1), np.sqrt(var, out=var), out=var)
    d *= inv
    y = d.astype(X.dtype, copy=False) * Scale
    if B is not None:
        y += B
    return y.astype(X.dtype, copy=False), mean, inv


def LRN(X, *, alpha=1e-4, beta=0.75, bias=1.0, size=None):
    """Krizhevsky et al., 2012: y = x / (bias + alpha/size * sum of x^2 over `size` channels)^beta."""
    if size is None:
        raise ValueError("LRN needs the 'size' attribute")
    t = X.dtype.type
    sq = X * X
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    widths = [(0, 0), (before, after)] + [(0, 0)] * (X.ndim - 2)
    s = np.lib.stride_tricks.sliding_window_view(np.pad(sq, widths), size, axis=1).sum(axis=-1, dtype=X.dtype)
    return (X / (t(bias) + t(alpha) / t(size) * s) ** t(beta)).astype(X.dtype)


def InstanceNormalization(input, scale, B, *, epsilon=1e-5):
    """Ulyanov et al., 2016: normalise each (sample, channel) over its spatial dims."""
    axes = tuple(range(2, input.ndim))
    t = input.dtype.type
    mean = input.mean(axis=axes, keepdims=True)
    var = ((input - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = (1, -1) + (1,) * (input.ndim - 2)
    y = (input - mean) / np.sqrt(var + t(epsilon)) * scale.reshape(shape) + B.reshape(shape)
    return y.astype(input.dtype)

"""Ops that only move data: reshape, transpose, slice, gather, concat, split and friends."""
from __future__ import annotations

import numpy as np

from ._util import norm_axes, norm_axis


def Identity(input):
    return input


def Shape(data, *, start=0, end=None):
    dims = np.array(data.shape, np.int64)
    return dims[start:end] if end is not None else dims[start:]


def Size(data):
    return np.array(data.size, np.int64)


def Reshape(data, shape, *, allowzero=0):
    """0 copies the input dim (unless allowzero), -1 is inferred."""
    s = [int(v) for v in shape]
    if not allowzero:
        s = [data.shape[i] if v == 0 else v for i, v in enumerate(s)]
    return data.reshape(s)


def Reshape_1(data, *, shape=()):
    return Reshape(data, np.asarray(shape, np.int64))


def Flatten(input, *, axis=1):
    a = axis + input.ndim if axis < 0 else axis
    return input.reshape(int(np.prod(input.shape[:a])), -1)


def Transpose(data, *, perm=None):
    return np.transpose(data, perm)


def Squeeze(data, axes=None):
    if axes is None:
        return np.squeeze(data)
    return np.squeeze(data, axis=norm_axes(axes, data.ndim))


def Squeeze_1(data, *, axes=None):
    return Squeeze(data, None if axes is None else np.asarray(axes))


def Unsqueeze(data, axes):
    rank = data.ndim + np.asarray(axes).size
    out = data
    for a in sorted(norm_axes(axes, rank)):
        out = np.expand_dims(out, a)
    return out


def Unsqueeze_1(data, *, axes=()):
    return Unsqueeze(data, np.asarray(axes, np.int64))


def Concat(*inputs, axis=None):
    if axis is None:
        raise ValueError("Concat needs the 'axis' attribute")
    return np.concatenate(inputs, axis=norm_axis(axis, inputs[0].ndim))


def _split(input, sizes, axis):
    a = norm_axis(axis, input.ndim)
    if sum(sizes) != input.shape[a]:
        raise ValueError(f"split sizes {sizes} do not add up to dim {input.shape[a]}")
    return tuple(np.split(input, np.cumsum(sizes)[:-1], axis=a))


def Split(input, split=None, *, axis=0, num_outputs=None):
    """split sizes, or `num_outputs` chunks of ceil(dim / num_outputs) (the last one smaller)."""
    if split is not None and np.asarray(split).size:
        return _split(input, [int(s) for s in split], axis)
    dim = input.shape[norm_axis(axis, input.ndim)]
    n = int(num_outputs)
    size = -(-dim // n)
    sizes = [min(size, dim - i * size) for i in range(n)]
    return _split(input, sizes, axis)


def Split_2(input, *, axis=0, split=None, num_outputs=None):
    return Split(input, None if split is None else np.asarray(split), axis=axis, num_outputs=num_outputs)


def Slice(data, starts, ends, axes=None, steps=None):
    """Python slicing per axis; starts/ends are clamped as the spec says (to [0, dim] or [-1, dim-1]
    for negative steps), which is what slice() objects do."""
    axes = range(len(starts)) if axes is None else norm_axes(axes, data.ndim)
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    sl = [slice(None)] * data.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        dim = data.shape[a]
        s, e = int(s), int(e)
        s = max(-dim - 1, min(dim, s))
        e = max(-dim - 1, min(dim, e))
        if st < 0:
            s = s + dim if s < 0 else s
            e = e + dim if e < 0 else e
            s = min(s, dim - 1)
            e = None if e < 0 else e
        sl[a] = slice(s, e, st)
    return data[tuple(sl)]


def Slice_1(data, *, axes=None, ends=(), starts=()):
    return Slice(data, starts, ends, axes)


def Gather(data, indices, *, axis=0):
    a = norm_axis(axis, data.ndim)
    idx = indices.astype(np.int64)
    idx = np.where(idx < 0, idx + data.shape[a], idx)
    return np.take(data, idx, axis=a)


def Expand(input, shape):
    out_shape = np.broadcast_shapes(input.shape, tuple(int(s) for s in shape))
    return np.broadcast_to(input, out_shape).copy()


def Tile(input, repeats):
    return np.tile(input, [int(r) for r in repeats])

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


def GatherElements(data, indices, *, axis=0):
    a = norm_axis(axis, data.ndim)
    idx = indices.astype(np.int64)
    idx = np.where(idx < 0, idx + data.shape[a], idx)
    return np.take_along_axis(data, idx, axis=a)


def DepthToSpace(input, *, blocksize=None, mode="DCR"):
    """(N, C, H, W) -> (N, C/b^2, H*b, W*b); DCR takes depth as (b, b, C'), CRD as (C', b, b)."""
    n, c, h, w = input.shape
    b = int(blocksize)
    if mode == "DCR":
        x = input.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        x = input.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise NotImplementedError(f"DepthToSpace mode {mode!r}")
    return x.reshape(n, c // (b * b), h * b, w * b)


def SpaceToDepth(input, *, blocksize=None, mode="DCR"):
    """The inverse of DepthToSpace."""
    n, c, h, w = input.shape
    b = int(blocksize)
    x = input.reshape(n, c, h // b, b, w // b, b)
    if mode == "DCR":
        x = x.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        x = x.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise NotImplementedError(f"SpaceToDepth mode {mode!r}")
    return x.reshape(n, c * b * b, h // b, w // b)


def Range(start, limit, delta, *, stash_type=1):
    """max(ceil((limit - start) / delta), 0) elements start + i * delta, in the inputs' type."""
    s, l, d = start.item(), limit.item(), delta.item()
    n = max(int(np.ceil((l - s) / d)), 0)
    return (s + np.arange(n) * d).astype(start.dtype) if start.dtype.kind == "f" else \
        np.arange(s, s + n * d, d, dtype=start.dtype)[:n]


def Trilu(input, k=None, *, upper=1):
    kk = int(k) if k is not None else 0
    return np.triu(input, kk) if upper else np.tril(input, kk)


def CumSum(x, axis, *, exclusive=0, reverse=0):
    a = norm_axis(int(np.asarray(axis).reshape(-1)[0]), x.ndim)
    y = np.flip(x, a) if reverse else x
    out = np.cumsum(y, axis=a, dtype=x.dtype)
    if exclusive:
        out = np.concatenate([np.zeros_like(np.take(out, [0], axis=a)), np.delete(out, -1, axis=a)], axis=a)
    return np.flip(out, a) if reverse else out

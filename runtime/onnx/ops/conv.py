"""Conv and ConvTranspose over any number of spatial dimensions.

Conv is im2col (Chellapilla et al., 2006): a strided view of every window, copied once into a
(N, group, pixels, C/group * kernel) matrix, times the weights in one batched matmul; grouped and
depthwise convolutions are the same matmul with a group batch axis, no loop over pixels.
ConvTranspose is the adjoint: one matmul gives every (input pixel, kernel tap) contribution, then
one strided add per kernel tap scatters them (col2im).
"""
from __future__ import annotations

import numpy as np

from ._util import pads_for, windows


def _attrs(x_shape, w_shape, kernel_shape, strides, dilations):
    n = len(x_shape) - 2
    kernel = list(kernel_shape) if kernel_shape else list(w_shape[2:])
    return kernel, list(strides) if strides else [1] * n, list(dilations) if dilations else [1] * n


def im2col(X, kernel, strides, dilations, pads, group, pad_value=0):
    """(N, group, out_pixels, C/group * prod(kernel)) windows of X, and the output spatial shape."""
    n = len(kernel)
    N, C = X.shape[:2]
    widths = [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)]
    xp = np.pad(X, widths, constant_values=pad_value) if any(pads) else X
    v = windows(xp, kernel, strides, dilations)  # N, C, *out, *k
    out = v.shape[2 : 2 + n]
    cg = C // group
    v = v.reshape((N, group, cg) + out + tuple(kernel))
    order = (0, 1) + tuple(range(3, 3 + n)) + (2,) + tuple(range(3 + n, 3 + 2 * n))
    cols = v.transpose(order).reshape(N, group, int(np.prod(out)), cg * int(np.prod(kernel)))
    return cols, out


def Conv(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    kernel, strides, dilations = _attrs(X.shape, W.shape, kernel_shape, strides, dilations)
    pads = pads_for(X.shape[2:], kernel, strides, dilations, auto_pad, pads)
    N = X.shape[0]
    M = W.shape[0]
    if X.shape[1] != W.shape[1] * group or M % group:
        raise ValueError(f"X has {X.shape[1]} channels, W {tuple(W.shape)} with group={group} expects {W.shape[1] * group}")
    cols, out = im2col(X, kernel, strides, dilations, pads, group)
    w = W.reshape(group, M // group, -1).transpose(0, 2, 1)  # group, Cg*k, M/group
    y = np.matmul(cols, w)  # N, group, pixels, M/group
    y = y.transpose(0, 1, 3, 2).reshape((N, M) + tuple(out))
    if B is not None:
        y = y + B.reshape((1, M) + (1,) * len(out))
    return y.astype(X.dtype, copy=False)


def _transpose_pads(full, in_sp, strides, auto_pad, output_shape, pads, n):
    """Pads to crop from the full ConvTranspose output. With output_shape (or SAME_*), total =
    full - target is split head = total/2 (C division), tail = the rest for SAME_UPPER, the other
    way round otherwise (the spec's pseudo-code); as onnxruntime, a negative total (a target larger
    than the full output) grows the output at the tail only."""
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = list(output_shape)[-n:] if output_shape else [in_sp[i] * strides[i] for i in range(n)]
        head, tail = [], []
        for i in range(n):
            total = full[i] - target[i]
            half = int(total / 2)
            if total < 0:
                head.append(0)
            elif auto_pad == "SAME_UPPER":
                head.append(half)
            else:
                head.append(total - half)
            tail.append(total - head[-1])
        return head + tail
    if auto_pad == "VALID" or not pads:
        return [0] * (2 * n)
    return list(pads)


def ConvTranspose(
    X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, output_padding=None,
    output_shape=None, pads=None, strides=None,
):
    n = X.ndim - 2
    kernel, strides, dilations = _attrs(X.shape, W.shape, kernel_shape, strides, dilations)
    output_padding = list(output_padding) if output_padding else [0] * n
    in_sp = X.shape[2:]
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [strides[i] * (in_sp[i] - 1) + output_padding[i] + eff[i] for i in range(n)]
    pads = _transpose_pads(full, in_sp, strides, auto_pad, output_shape, pads, n)
    N, C = X.shape[:2]
    Mg = W.shape[1]
    cg = C // group
    x = X.reshape(N, group, cg, -1).transpose(0, 1, 3, 2)  # N, g, P, cg
    w = W.reshape(group, cg, -1)  # g, cg, Mg * k
    contrib = np.matmul(x, w).reshape((N, group) + tuple(in_sp) + (Mg,) + tuple(kernel))
    contrib = np.moveaxis(contrib, 2 + n, 2)  # N, g, Mg, *in, *k
    y = np.zeros((N, group, Mg) + tuple(full), X.dtype)
    for tap in np.ndindex(*kernel):
        dst = (slice(None),) * 3 + tuple(
            slice(tap[i] * dilations[i], tap[i] * dilations[i] + strides[i] * (in_sp[i] - 1) + 1, strides[i])
            for i in range(n)
        )
        y[dst] += contrib[(Ellipsis,) + tuple(tap)]
    y = y.reshape((N, group * Mg) + tuple(full))
    grow = [(0, 0), (0, 0)] + [(max(0, -pads[i]), max(0, -pads[i + n])) for i in range(n)]
    if any(g for pair in grow for g in pair):
        y = np.pad(y, grow)
    crop = (slice(None), slice(None)) + tuple(
        slice(max(0, pads[i]), y.shape[2 + i] - max(0, pads[i + n])) for i in range(n)
    )
    y = y[crop]
    if B is not None:
        y = y + B.reshape((1, -1) + (1,) * n)
    return np.ascontiguousarray(y.astype(X.dtype, copy=False))

"""MaxPool, AveragePool and the global pools, on a strided window view (no loop over pixels).

Output size: floor((in + pads - ((k-1)*d+1)) / s) + 1, or ceil with ceil_mode, dropping a last
window that would start in the end padding (as onnxruntime and PyTorch do).
"""
from __future__ import annotations

import numpy as np

from ...tiled_max import max_over_tiles
from ._util import pads_for, windows


def _geometry(shape, kernel_shape, strides, dilations, auto_pad, pads, ceil_mode):
    n = len(shape) - 2
    kernel = list(kernel_shape)
    strides = list(strides) if strides else [1] * n
    dilations = list(dilations) if dilations else [1] * n
    pads = pads_for(shape[2:], kernel, strides, dilations, auto_pad, pads)
    extra = []
    for i in range(n):
        size = shape[2 + i] + pads[i] + pads[i + n]
        eff = (kernel[i] - 1) * dilations[i] + 1
        if ceil_mode:
            out = -(-(size - eff) // strides[i]) + 1
            if (out - 1) * strides[i] >= shape[2 + i] + pads[i]:
                out -= 1
        else:
            out = (size - eff) // strides[i] + 1
        extra.append(max(0, (out - 1) * strides[i] + eff - size))
    return kernel, strides, dilations, pads, extra


def _padded(X, pads, extra, value):
    n = X.ndim - 2
    widths = [(0, 0), (0, 0)] + [(pads[i], pads[i + n] + extra[i]) for i in range(n)]
    return np.pad(X, widths, constant_values=value) if any(w for pair in widths for w in pair) else X


def MaxPool(X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None, storage_order=0,
            strides=None, num_outputs=1):
    """Y, and the optional Indices only when the node asks for them (`num_outputs`, from the graph)."""
    kernel, strides, dilations, pads, extra = _geometry(X.shape, kernel_shape, strides, dilations, auto_pad, pads,
                                                        ceil_mode)
    if num_outputs < 2 and _tiles(X.shape, kernel, strides, dilations, pads, extra):
        return _tiled_max(X, kernel)
    low = -np.inf if X.dtype.kind == "f" else np.iinfo(X.dtype).min
    v = windows(_padded(X, pads, extra, low), kernel, strides, dilations)
    n = len(kernel)
    y = v.max(axis=tuple(range(2 + n, 2 + 2 * n)))
    if num_outputs < 2:
        return y
    return y, _argmax_indices(v, X.shape, kernel, strides, dilations, pads, storage_order)


def _tiles(shape, kernel, strides, dilations, pads, extra) -> bool:
    """Windows that tile a 2-D input exactly: kernel = stride, no dilation, no padding, and sizes
    the kernel divides (then every input element is in exactly one window)."""
    return (len(kernel) == 2 and list(kernel) == list(strides) and all(d == 1 for d in dilations)
            and not any(pads) and not any(extra) and all(k > 0 for k in kernel) and kernel[0] * kernel[1] > 1
            and shape[2] % kernel[0] == 0 and shape[3] % kernel[1] == 0)


def _tiled_max(X, kernel):
    """The max over each window, from (N*C*OH, KH, OW, KW) rows (runtime/tiled_max.py)."""
    n, c, h, w = X.shape
    kh, kw = kernel
    rows = X.reshape(n * c * (h // kh), kh, w // kw, kw)
    return max_over_tiles(rows, kw, 1).reshape(n, c, h // kh, w // kw)


def _argmax_indices(v, shape, kernel, strides, dilations, pads, storage_order):
    """MaxPool's second output: where each maximum came from, as a flat index into X (N, C, *spatial),
    row-major or, with storage_order=1, column-major over the spatial dims; padding never counts."""
    n = len(kernel)
    out = v.shape[2 : 2 + n]
    tap = v.reshape(v.shape[: 2 + n] + (-1,)).argmax(axis=-1)
    taps = np.unravel_index(tap, kernel)
    coords = []
    for i in range(n):
        start = np.arange(out[i]).reshape((-1,) + (1,) * (n - 1 - i)) * strides[i] - pads[i]
        coords.append(start + taps[i] * dilations[i])
    spatial = shape[2:]
    if storage_order:
        flat = np.zeros_like(tap, dtype=np.int64)
        for i in reversed(range(n)):
            flat = flat * spatial[i] + coords[i]
    else:
        flat = np.ravel_multi_index(tuple(np.broadcast_to(c, tap.shape) for c in coords), spatial, mode="clip")
    plane = int(np.prod(spatial))
    nc = (np.arange(shape[0])[:, None] * shape[1] + np.arange(shape[1])[None, :]) * plane
    return (flat + nc.reshape(nc.shape + (1,) * n)).astype(np.int64)


def AveragePool(X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape=None,
                pads=None, strides=None):
    """Divides by the number of window taps inside the input, or inside input + explicit pads when
    count_include_pad (the extra end padding of ceil_mode never counts)."""
    kernel, strides, dilations, pads, extra = _geometry(X.shape, kernel_shape, strides, dilations, auto_pad, pads,
                                                        ceil_mode)
    n = len(kernel)
    red = tuple(range(2 + n, 2 + 2 * n))
    total = windows(_padded(X, pads, extra, 0), kernel, strides, dilations).sum(axis=red, dtype=X.dtype)
    ones = np.ones((1, 1) + X.shape[2:], X.dtype)
    if count_include_pad:
        ones = _padded(ones, pads, [0] * n, 1)
        mask = _padded(ones, [0] * (2 * n), extra, 0)
    else:
        mask = _padded(ones, pads, extra, 0)
    count = windows(mask, kernel, strides, dilations).sum(axis=red, dtype=X.dtype)
    return (total / count).astype(X.dtype)


def GlobalAveragePool(X):
    return X.mean(axis=tuple(range(2, X.ndim)), keepdims=True, dtype=X.dtype)


def GlobalMaxPool(X):
    return X.max(axis=tuple(range(2, X.ndim)), keepdims=True)

"""Max pooling over windows that tile the input exactly (window = stride, no padding), for both
interpreters (TFLite NHWC, ONNX NCHW).

The caller views its input as rows (R, KH, OW, KW * inner): window row i of output column x is
rows[:, i, x], and its KW taps are the KW consecutive blocks of `inner` values of the last axis.
The maxima are then KH - 1 + KW - 1 elementwise np.maximum calls over strided slices, each input
value read once, instead of a reduction over a 6-D window view (whose per-window overhead dominates
on small feature maps). Same maxima in another order, so the same values (a NaN propagates in both).
"""
from __future__ import annotations

import numpy as np


def max_over_tiles(rows: np.ndarray, kw: int, inner: int) -> np.ndarray:
    """rows (R, KH, OW, KW * inner) -> (R, OW, inner), a new array; needs KH * KW > 1."""
    kh = rows.shape[1]
    a = np.maximum(rows[:, 0], rows[:, 1]) if kh > 1 else rows[:, 0]
    for i in range(2, kh):
        np.maximum(a, rows[:, i], out=a)
    if kw == 1:
        return a
    b = np.maximum(a[..., :inner], a[..., inner:2 * inner])
    for j in range(2, kw):
        np.maximum(b, a[..., j * inner:(j + 1) * inner], out=b)
    return b

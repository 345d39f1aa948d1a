"""Helpers shared by the spatial kernels: TFLite padding arithmetic and sliding-window views."""
from __future__ import annotations

from typing import Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided


def out_size_and_pad(padding: str, size: int, k: int, stride: int, dilation: int = 1) -> Tuple[int, int, int]:
    """(output size, pad before, pad after) as ComputePaddingHeightWidth in tflite/kernels/padding.h."""
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        out = (size + stride - 1) // stride
    else:
        out = (size - eff + stride) // stride
    total = max((out - 1) * stride + eff - size, 0)
    return max(out, 0), total // 2, total - total // 2


def pad_hw(x: np.ndarray, ph: Tuple[int, int], pw: Tuple[int, int], value=0) -> np.ndarray:
    if not any(ph) and not any(pw):
        return x
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def windows(xp: np.ndarray, oh: int, ow: int, kh: int, kw: int, sh: int, sw: int, dh: int = 1, dw: int = 1):
    """A (N, OH, OW, KH, KW, C) view of padded NHWC `xp`: window (i, j) of output pixel (y, x)."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


def gemm_dtype(k: int, max_abs_x: int, max_abs_w: int):
    """float32 when every partial sum of an int8 dot product of length k is an integer below 2^24
    (so exactly representable, whatever order BLAS sums in), else float64 (exact below 2^53)."""
    return np.float32 if k * max_abs_x * max_abs_w < (1 << 24) else np.float64

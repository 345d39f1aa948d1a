"""Helpers shared by the spatial kernels: TFLite padding arithmetic, sliding-window views, reused
padded buffers and the exactness bound of integer GEMMs run in floating point."""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...sparse import exact_dtype


def out_size_and_pad(padding, size: int, k: int, stride: int, dilation: int = 1) -> Tuple[int, int, int]:
    """(output size, pad before, pad after) as ComputePaddingHeightWidth in tflite/kernels/padding.h;
    `padding` is "SAME", "VALID" or this axis's explicit (before, after) pads (see `conv_padding`)."""
    eff = (k - 1) * dilation + 1
    if not isinstance(padding, str):
        before, after = (int(v) for v in padding)
        return max((size + before + after - eff) // stride + 1, 0), before, after
    if padding == "SAME":
        out = (size + stride - 1) // stride
    else:
        out = (size - eff + stride) // stride
    total = max((out - 1) * stride + eff - size, 0)
    return max(out, 0), total // 2, total - total // 2


def conv_padding(options):
    """A convolution's padding as the kernels take it: "SAME" / "VALID", or ((top, bottom), (left,
    right)) when a PAD was fused into it (passes/fuse_pad.py sets "EXPLICIT" and the pads)."""
    if options.get("padding") == "EXPLICIT":
        return tuple(tuple(int(v) for v in hw) for hw in options["explicit_padding"])
    return options["padding"]


def axis_padding(padding, axis: int):
    """The `out_size_and_pad` argument for axis 0 (height) or 1 (width)."""
    return padding if isinstance(padding, str) else padding[axis]


def pad_hw(x: np.ndarray, ph: Tuple[int, int], pw: Tuple[int, int], value=0) -> np.ndarray:
    if not any(ph) and not any(pw):
        return x
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def windows(xp: np.ndarray, oh: int, ow: int, kh: int, kw: int, sh: int, sw: int, dh: int = 1, dw: int = 1):
    """A (N, OH, OW, KH, KW, C) view of padded NHWC `xp`: window (i, j) of output pixel (y, x)."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


class PaddedInput:
    """The kernel's NHWC input, padded for a (kh, kw, sh, sw, dh, dw, padding) window, in `dtype`.

    The buffer is allocated once per input shape with its border set to `fill` and only its
    interior is rewritten per call (one cast-and-copy instead of np.pad's allocation, copy and
    border writes). The returned array is that buffer: it is valid until the next call, so a
    kernel must finish reading it before returning (and an Interpreter is not reentrant).
    """

    def __init__(self, geometry, fill, dtype):
        self._geometry = geometry
        self._fill = fill
        self._dtype = np.dtype(dtype)
        self._shape = None
        self._buf = None
        self._gather = None
        self.out_hw = (0, 0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self._shape:
            kh, kw, sh, sw, dh, dw, padding = self._geometry
            n, h, w, c = x.shape
            oh, pt, pb = out_size_and_pad(axis_padding(padding, 0), h, kh, sh, dh)
            ow, pl, pr = out_size_and_pad(axis_padding(padding, 1), w, kw, sw, dw)
            self._buf = np.full((n, h + pt + pb, w + pl + pr, c), self._fill, self._dtype)
            self._interior = self._buf[:, pt:pt + h, pl:pl + w, :]
            self._shape = x.shape
            self.out_hw = (oh, ow)
            self._windows = None
            self._gather = None
        self._interior[...] = x
        return self._buf

    def rows(self, x: np.ndarray) -> np.ndarray:
        """The (N*OH*OW, KH*KW*C) im2col matrix of x padded (a new array). With one channel the
        window view's copy runs an inner loop one element long; a gather through the flat positions
        of every window (made once per shape, at most GATHER_MAX of them) is 2.5-3x faster there,
        and slower from three channels on."""
        buf = self(x)
        kh, kw = self._geometry[:2]
        if self._gather is None:
            n_rows = x.shape[0] * self.out_hw[0] * self.out_hw[1]
            if buf.shape[3] == 1 and n_rows * kh * kw <= GATHER_MAX:
                positions = np.arange(buf.size, dtype=np.intp).reshape(buf.shape)
                self._gather = self._window_view(positions).reshape(n_rows, kh * kw)
            else:
                self._gather = False
        if self._gather is not False:
            return buf.reshape(-1).take(self._gather)
        return self.windows(x).reshape(-1, kh * kw * buf.shape[3])

    def _window_view(self, a: np.ndarray) -> np.ndarray:
        kh, kw, sh, sw, dh, dw, _ = self._geometry
        return windows(a, *self.out_hw, kh, kw, sh, sw, dh, dw)

    def windows(self, x: np.ndarray) -> np.ndarray:
        """x padded, as the (N, OH, OW, KH, KW, C) window view of the buffer (made once per shape:
        the view stays valid because the buffer is reused)."""
        buf = self(x)
        if self._windows is None:
            self._windows = self._window_view(buf)
        return self._windows


TILE_ELEMENTS = 1024  # inner-loop length to aim for when channels are few
GATHER_MAX = 1 << 20  # window positions PaddedInput.rows keeps as a gather index (8 MiB)


class ChannelBias:
    """y + b for y of shape (..., C) and a per-channel b, at full NumPy speed for few channels.

    NumPy loops over the last axis only, so with broadcasting a (rows, 8) + (8,) sum runs one
    8-element loop per row. Viewed as (rows / k, k * C) against b tiled k times (k a divisor of
    rows, cached), the loops are ~TILE_ELEMENTS long.
    """

    def __init__(self, b: np.ndarray):
        self._b = b
        self._tiled = {}

    def __call__(self, y: np.ndarray) -> np.ndarray:
        n = self._b.size
        k = math.gcd(y.size // n if n else 0, max(1, TILE_ELEMENTS // max(n, 1)))
        if k not in self._tiled:
            self._tiled[k] = np.tile(self._b, k)
        flat = y.reshape(-1, k * n)
        flat += self._tiled[k]
        return flat.reshape(y.shape)


def gemm_dtype(k: int, max_abs_x: int, max_abs_w: int):
    """float32 when every partial sum of an int8 dot product of length k is an integer below 2^24
    (so exactly representable, whatever order BLAS sums in), else float64 (exact below 2^53)."""
    return np.float32 if k * max_abs_x * max_abs_w < (1 << 24) else np.float64


def weights_gemm_dtype(w_out_in: np.ndarray, max_abs_x: int):
    """The cheapest float type in which x @ W.T is exact for integers |x| <= max_abs_x: bounded by
    max_abs_x times W's largest row sum of |w| (runtime/sparse/exact.py), which bounds every partial
    sum in any summation order and is far tighter than k * max|x| * max|w|."""
    return exact_dtype(w_out_in, max_abs_x).type

"""Conv and ConvTranspose over any number of spatial dimensions.

Conv is im2col (Chellapilla et al., 2006) laid out channel-major: the columns are a
(N, group, C/group * prod(kernel), pixels) matrix filled with one strided copy per kernel tap
(each copy moves whole rows of pixels), and one batched matmul with W.reshape(group, M/group, -1)
gives Y. A 1x1 convolution with unit strides copies nothing: its columns are X itself. Grouped
and depthwise convolutions are the same matmul with a group batch axis (C products of a
(multiplier, prod(kernel)) filter by its channel's columns, measured faster than one broadcast
multiply-add per tap, whose short inner loops cost NumPy more than the copy); with unit strides
their columns are cut from the flattened padded plane (`flat_columns`), one contiguous run per
tap and channel. `conv_matmul` explains which way round the matmul is done.
ConvTranspose is the adjoint: one matmul gives every (input pixel, kernel tap) contribution, then
one strided add per kernel tap scatters them (col2im).
"""
from __future__ import annotations

import itertools
import math
from typing import List, NamedTuple, Tuple

import numpy as np

from ._util import pad_constant, pads_for


def _attrs(x_shape, w_shape, kernel_shape, strides, dilations):
    n = len(x_shape) - 2
    kernel = list(kernel_shape) if kernel_shape else list(w_shape[2:])
    return kernel, list(strides) if strides else [1] * n, list(dilations) if dilations else [1] * n


class Geometry(NamedTuple):
    """A convolution's window placement: out_i = (in_i + pads_i + pads_{i+n} - eff_i) // s_i + 1,
    eff_i = (k_i - 1) * d_i + 1 (ONNX Conv, auto_pad resolved by `pads_for`)."""

    kernel: List[int]
    strides: List[int]
    dilations: List[int]
    pads: List[int]
    out: Tuple[int, ...]

    @property
    def unit(self) -> bool:
        """1x1 kernel, unit strides, no padding: the columns are X itself."""
        return all(k == 1 for k in self.kernel) and all(s == 1 for s in self.strides) and not any(self.pads)


def geometry(x_shape, w_shape, auto_pad, dilations, kernel_shape, pads, strides) -> Geometry:
    kernel, strides, dilations = _attrs(x_shape, w_shape, kernel_shape, strides, dilations)
    n = len(kernel)
    if len(x_shape) != n + 2 or len(strides) != n or len(dilations) != n:
        raise ValueError(f"input of shape {tuple(x_shape)} does not fit a {n}-d kernel {kernel}")
    pads = pads_for(x_shape[2:], kernel, strides, dilations, auto_pad, pads)
    out = tuple(
        (x_shape[2 + i] + pads[i] + pads[i + n] - (kernel[i] - 1) * dilations[i] - 1) // strides[i] + 1
        for i in range(n)
    )
    if any(o <= 0 for o in out):
        raise ValueError(f"kernel {kernel} with pads {pads} does not fit input {tuple(x_shape)}")
    return Geometry(kernel, strides, dilations, pads, out)


def padded(X: np.ndarray, g: Geometry, value=0) -> np.ndarray:
    n = len(g.kernel)
    return pad_constant(X, [(0, 0), (0, 0)] + [(g.pads[i], g.pads[i + n]) for i in range(n)], value)


def taps(xp: np.ndarray, g: Geometry):
    """The input pixels each kernel tap meets, (N, C, *out) views of xp, taps in row-major order."""
    per_dim = [[slice(t * d, t * d + s * (o - 1) + 1, s) for t in range(k)]
               for k, d, s, o in zip(g.kernel, g.dilations, g.strides, g.out)]
    lead = (slice(None), slice(None))
    return [xp[lead + sl] for sl in itertools.product(*per_dim)]


def columns(xp: np.ndarray, g: Geometry, group: int) -> np.ndarray:
    """im2col of the padded input: (N, group, C/group * prod(kernel), prod(out)), rows ordered
    (channel, *kernel) as W.reshape(M, -1) orders its columns."""
    N, C = xp.shape[:2]
    pixels = math.prod(g.out)
    if g.unit:
        return xp.reshape(N, group, C // group, pixels)
    K = math.prod(g.kernel)
    cols = np.empty((N, C, K) + tuple(g.out), xp.dtype)
    for t, view in enumerate(taps(xp, g)):
        cols[:, :, t] = view
    return cols.reshape(N, group, (C // group) * K, pixels)


def flat_columns(X: np.ndarray, g: Geometry, group: int) -> Tuple[np.ndarray, int]:
    """Stride-1 2-d im2col over the padded width: (N, group, C/group * kh * kw, OH * Wp), and Wp.

    With unit strides, tap (a, b) of output (i, j) reads padded pixel (i + a*dh, j + b*dw), i.e.
    flat index (i * Wp + j) + (a*dh*Wp + b*dw) of the row-major padded plane. Computing outputs for
    every j < Wp (the last Wp - OW of each row are thrown away) makes each tap's pixels one
    contiguous run per channel, copied with long inner loops, where `columns` copies rows of OW
    values (OW is 3..12 late in a MobileNet, and NumPy's cost is then per row, not per value).
    One extra padded row at the bottom keeps the last taps' runs inside the buffer.
    """
    N, C, H, W = X.shape
    (kh, kw), (dh, dw) = g.kernel, g.dilations
    OH = g.out[0]
    Wp = W + g.pads[1] + g.pads[3]
    L = OH * Wp
    xp = pad_constant(X, [(0, 0), (0, 0), (g.pads[0], g.pads[2] + 1), (g.pads[1], g.pads[3])])
    sn, sc = xp.strides[:2]
    item = xp.itemsize
    view = np.lib.stride_tricks.as_strided(xp, (N, C, kh, kw, L), (sn, sc, dh * Wp * item, dw * item, item),
                                           writeable=False)
    return np.ascontiguousarray(view).reshape(N, group, (C // group) * kh * kw, L), Wp


def conv_nchw(X: np.ndarray, w: np.ndarray, g: Geometry, group: int) -> np.ndarray:
    """Y (N, M, *out) of the unpadded input X and weights (group, M/group, K): im2col and one matmul.
    Grouped and depthwise 2-d convolutions with unit strides use `flat_columns` (Y is then a view
    that drops the padding columns)."""
    if group > 1 and len(g.kernel) == 2 and g.strides == [1, 1] and not g.unit:
        cols, Wp = flat_columns(X, g, group)
        N, M = X.shape[0], w.shape[0] * w.shape[1]
        return np.matmul(w, cols).reshape(N, M, g.out[0], Wp)[..., : g.out[1]]
    return conv_matmul(columns(padded(X, g), g, group), w, g)


def conv_matmul(cols: np.ndarray, w: np.ndarray, g: Geometry) -> np.ndarray:
    """Y (N, M, *out) from channel-major columns (N, group, K, P) and weights (group, M/group, K).

    Two orientations give the same products, summed in a different order by BLAS (the last bits
    differ). w @ cols writes Y in NCHW order directly; cols^T @ w^T (both transposes free) writes
    it pixel-major, so Y is a transposed view that some later op pays a copy for. The first serves
    1x1 and grouped convolutions; a dense k x k convolution keeps the second, the order of a
    pixel-major im2col with which the float tolerances against onnxruntime were set (for ZFNet,
    the other order moves one softmax probability from 0.95e-5 to 1.2e-5 relative).
    """
    N, group, _, _ = cols.shape
    M = w.shape[0] * w.shape[1]
    if group == 1 and not g.unit:
        y = np.matmul(cols.swapaxes(-1, -2), w.swapaxes(-1, -2))
        return to_nchw(y, N, M, g.out)
    return np.matmul(w, cols).reshape((N, M) + tuple(g.out))


def to_nchw(y: np.ndarray, N: int, M: int, out: Tuple[int, ...]) -> np.ndarray:
    """(N, group, pixels, M/group) pixel-major products -> (N, M, *out)."""
    return y.swapaxes(-1, -2).reshape((N, M) + tuple(out))


def add_bias(y: np.ndarray, B) -> np.ndarray:
    """y (N, M, *out), a fresh array or a view of one, plus B (M,) per output channel: in place,
    or, when y is a strided view, into a new contiguous array (the same single pass, and the ops
    that read Y next get unit strides)."""
    if B is None:
        return y
    b = B.reshape((1, -1) + (1,) * (y.ndim - 2))
    if y.flags.c_contiguous:
        y += b
        return y
    return np.add(y, b, out=np.empty(y.shape, y.dtype))


def check_channels(C: int, w_shape, group: int) -> None:
    if C != w_shape[1] * group or w_shape[0] % group:
        raise ValueError(f"X has {C} channels, W {tuple(w_shape)} with group={group} expects {w_shape[1] * group}")


def Conv(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    g = geometry(X.shape, W.shape, auto_pad, dilations, kernel_shape, pads, strides)
    N, C = X.shape[:2]
    M = W.shape[0]
    check_channels(C, W.shape, group)
    y = conv_nchw(X, W.reshape(group, M // group, -1), g, group)
    return add_bias(y, B).astype(X.dtype, copy=False)


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

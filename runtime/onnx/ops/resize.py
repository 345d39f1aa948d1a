"""Resize: nearest, (multi)linear and cubic interpolation, applied one axis at a time.

Separable: interpolating axis by axis equals the N-D formula, and each axis is a gather of a few
taps times per-output weights. Coordinate transforms and the cubic kernel (Keys, 1981, with
coefficient `cubic_coeff_a`) as the ONNX spec (Resize-19) gives them.
"""
from __future__ import annotations

import numpy as np


def _source_coords(x, in_len, out_len, scale, mode, roi_start, roi_end):
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adj = out_len / (scale * in_len)
        center = in_len / 2
        return center * (1 - adj) + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.zeros_like(x)
    if mode == "align_corners":  # the spec's length_resized is in_len * scale, before flooring
        resized = in_len * scale
        return x * (in_len - 1) / (resized - 1) if out_len > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_crop_and_resize":
        if out_len > 1:
            return roi_start * (in_len - 1) + x * (roi_end - roi_start) * (in_len - 1) / (out_len - 1)
        return np.full_like(x, 0.5 * (roi_start + roi_end) * (in_len - 1))
    raise NotImplementedError(f"coordinate_transformation_mode {mode!r}")


def _nearest(c, mode):
    if mode == "round_prefer_floor":
        return np.ceil(c - 0.5)
    if mode == "round_prefer_ceil":
        return np.floor(c + 0.5)
    if mode == "floor":
        return np.floor(c)
    if mode == "ceil":
        return np.ceil(c)
    raise NotImplementedError(f"nearest_mode {mode!r}")


def _cubic_weights(t, a):
    t = t[:, None] + np.array([1.0, 0.0, -1.0, -2.0])  # distance to taps x0-1 .. x0+2
    d = np.abs(t)
    return np.where(
        d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0)
    )


def _resize_axis(x, axis, out_len, scale, attrs, roi_start, roi_end):
    in_len = x.shape[axis]
    c = _source_coords(np.arange(out_len, dtype=np.float64), in_len, out_len, scale,
                       attrs["coordinate_transformation_mode"], roi_start, roi_end)
    mode = attrs["mode"]
    if mode == "nearest":
        idx = np.clip(_nearest(c, attrs["nearest_mode"]), 0, in_len - 1).astype(np.int64)
        out = np.take(x, idx, axis=axis)
    else:
        x0 = np.floor(c)
        if mode == "linear":
            taps = np.stack([x0, x0 + 1], 1)
            t = c - x0
            w = np.stack([1 - t, t], 1)
        elif mode == "cubic":
            taps = x0[:, None] + np.array([-1.0, 0.0, 1.0, 2.0])
            w = _cubic_weights(c - x0, attrs["cubic_coeff_a"])
        else:
            raise NotImplementedError(f"mode {mode!r}")
        if attrs["exclude_outside"]:
            w = np.where((taps >= 0) & (taps <= in_len - 1), w, 0.0)
            w = w / w.sum(axis=1, keepdims=True)
        idx = np.clip(taps, 0, in_len - 1).astype(np.int64)
        shape = [1] * x.ndim
        shape[axis] = out_len
        out = None
        for k in range(idx.shape[1]):
            term = np.take(x, idx[:, k], axis=axis) * w[:, k].astype(x.dtype).reshape(shape)
            out = term if out is None else out + term
    if attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        shape = [1] * x.ndim
        shape[axis] = out_len
        outside = ((c < 0) | (c > in_len - 1)).reshape(shape)
        out = np.where(outside, x.dtype.type(attrs["extrapolation_value"]), out)
    return out


def Resize(X, roi=None, scales=None, sizes=None, *, antialias=0, axes=None, coordinate_transformation_mode="half_pixel",
           cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
           mode="nearest", nearest_mode="round_prefer_floor"):
    if antialias:
        raise NotImplementedError("antialias=1")
    rank = X.ndim
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    in_shape = [X.shape[a] for a in axes]
    if sizes is not None and np.asarray(sizes).size:
        sizes = [int(s) for s in sizes]
        if keep_aspect_ratio_policy != "stretch":
            ratios = [s / i for s, i in zip(sizes, in_shape)]
            r = min(ratios) if keep_aspect_ratio_policy == "not_larger" else max(ratios)
            sizes = [int(np.floor(r * i + 0.5)) for i in in_shape]
            scl = [r] * len(axes)
        else:
            scl = [s / i for s, i in zip(sizes, in_shape)]
    elif scales is not None and np.asarray(scales).size:
        scl = [float(s) for s in np.asarray(scales, np.float32)]
        sizes = [int(np.floor(i * s)) for i, s in zip(in_shape, scl)]
    else:
        raise ValueError("Resize needs either scales or sizes")
    r = np.asarray(roi, np.float64).reshape(-1) if roi is not None and np.asarray(roi).size else None
    attrs = dict(coordinate_transformation_mode=coordinate_transformation_mode, cubic_coeff_a=cubic_coeff_a,
                 exclude_outside=exclude_outside, extrapolation_value=extrapolation_value, mode=mode,
                 nearest_mode=nearest_mode)
    out = X
    n = len(axes)
    for i, a in enumerate(axes):
        if sizes[i] == X.shape[a] and scl[i] == 1.0 and coordinate_transformation_mode != "tf_crop_and_resize":
            continue
        start, end = (r[i], r[i + n]) if r is not None else (0.0, 1.0)
        out = _resize_axis(out, a, sizes[i], scl[i], attrs, start, end)
    return out.astype(X.dtype, copy=False)


def Resize_10(X, scales, *, mode="nearest"):
    return Resize(X, None, scales, coordinate_transformation_mode="asymmetric", mode=mode, nearest_mode="floor")


def Upsample(X, scales, *, mode="nearest"):
    """Deprecated since opset 10; Resize-10 with its asymmetric coordinates and floor rounding."""
    return Resize_10(X, scales, mode=mode)

"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (resize_bilinear.cc, resize_nearest_neighbor.cc).

Source coordinates follow ComputeInterpolationValues / GetNearestNeighbor in float32. int8 bilinear is
reference_ops::ResizeBilinearInteger (which LiteRT's optimized kernel calls): 10-bit fixed-point
coordinates, weights multiplied in int64, rounded half away from zero at 2^20; values keep the input's
quantization.
"""
from __future__ import annotations

import numpy as np

from .registry import register

F32 = np.float32


def _float_coords(out_size, in_size, align_corners, half_pixel):
    scale = F32(in_size) / F32(out_size)
    if align_corners and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    v = np.arange(out_size, dtype=F32)
    scaled = ((v + F32(0.5)) * scale - F32(0.5)).astype(F32) if half_pixel else (v * scale).astype(F32)
    lower = np.maximum(np.floor(scaled).astype(np.int64), 0)
    upper = np.minimum(np.ceil(scaled).astype(np.int64), in_size - 1)
    return scaled, lower, upper


def _int_coords(out_size, in_size, align_corners, half_pixel):
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    v = np.arange(out_size, dtype=np.int64)
    scaled = v * scale + scale // 2 - (1 << 9) if half_pixel else v * scale
    lower = np.maximum(np.trunc(scaled / 1024.0).astype(np.int64), 0)
    upper = np.minimum(np.trunc((scaled + 1023) / 1024.0).astype(np.int64), in_size - 1)
    return scaled, lower, upper


def resize_bilinear_float(x, oh, ow, align, half):
    ys, y0, y1 = _float_coords(oh, x.shape[1], align, half)
    xs, x0, x1 = _float_coords(ow, x.shape[2], align, half)
    dy = (ys - y0).astype(np.float64)[None, :, None, None]
    dx = (xs - x0).astype(np.float64)[None, None, :, None]
    xd = x.astype(np.float64)
    top = xd[:, y0][:, :, x0] * (1 - dx) + xd[:, y0][:, :, x1] * dx
    bot = xd[:, y1][:, :, x0] * (1 - dx) + xd[:, y1][:, :, x1] * dx
    return (top * (1 - dy) + bot * dy).astype(F32)


def resize_bilinear_int(x, oh, ow, align, half):
    ys, y0, y1 = _int_coords(oh, x.shape[1], align, half)
    xs, x0, x1 = _int_coords(ow, x.shape[2], align, half)
    wy1 = (ys - 1024 * y0)[None, :, None, None]
    wx1 = (xs - 1024 * x0)[None, None, :, None]
    wy0, wx0 = 1024 - wy1, 1024 - wx1
    xi = x.astype(np.int64)
    acc = (xi[:, y0][:, :, x0] * wy0 * wx0 + xi[:, y1][:, :, x0] * wy1 * wx0
           + xi[:, y0][:, :, x1] * wy0 * wx1 + xi[:, y1][:, :, x1] * wy1 * wx1)
    rounded = np.where(acc > 0, acc + (1 << 19), acc - (1 << 19))
    q = np.where(rounded >= 0, rounded >> 20, -((-rounded) >> 20))
    return q.astype(x.dtype)


def _size(ins):
    s = ins[1].reshape(-1)
    return int(s[0]), int(s[1])


@register("RESIZE_BILINEAR")
def build_resize_bilinear(ctx):
    align = bool(ctx.options.get("align_corners", False))
    half = bool(ctx.options.get("half_pixel_centers", False))
    dt = ctx.require_dtypes(("float32", "int8"))
    if dt == "int8" and ctx.qparams(ctx.inputs[0]) != ctx.qparams(ctx.outputs[0]):
        raise ctx.unsupported("int8 input and output quantized differently")
    fn = resize_bilinear_float if dt == "float32" else resize_bilinear_int

    def run(ins):
        oh, ow = _size(ins)
        ctx.check_output_size([ins[0].shape[0], oh, ow, ins[0].shape[3]])
        return [fn(ins[0], oh, ow, align, half)]

    return run


def nearest_indices(out_size, in_size, align, half):
    scale = F32(in_size) / F32(out_size)
    if align and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    v = (np.arange(out_size, dtype=F32) + (F32(0.5) if half else F32(0))) * scale
    v = v.astype(F32)
    if align:
        idx = (np.sign(v) * np.floor(np.abs(v) + F32(0.5))).astype(np.int64)
    else:
        idx = np.floor(v).astype(np.int64)
    idx = np.minimum(idx, in_size - 1)
    return np.maximum(idx, 0) if half else idx


@register("RESIZE_NEAREST_NEIGHBOR")
def build_resize_nearest(ctx):
    align = bool(ctx.options.get("align_corners", False))
    half = bool(ctx.options.get("half_pixel_centers", False))

    def run(ins):
        x = ins[0]
        oh, ow = _size(ins)
        ctx.check_output_size([x.shape[0], oh, ow, x.shape[3]])
        yi = nearest_indices(oh, x.shape[1], align, half)
        xi = nearest_indices(ow, x.shape[2], align, half)
        return [x[:, yi][:, :, xi]]

    return run

"""MEAN and SUM/REDUCE_MAX/REDUCE_MIN (reduce.cc).

int8 MEAN has two LiteRT paths, both reproduced:
- keep_dims, 4-D, axes {1, 2}: optimized_integer_ops::Mean: float32 bias
  out_zp - round(in_zp * s_in / s_out) and multiplier s_in / (n * s_out), applied to the raw sum, with
  the vector loop's rounding on channels [0, 16*floor(C/16)) (see vector_paths);
- otherwise reference_ops::QuantizedMeanOrSum: the multiplier s_in / s_out (double) is rescaled by
  2^k / n with k = floor(log2 n) (bounded), applied to sum(x) - in_zp * n.

In both, an output is a function of the integer sum alone (and, in the first, of whether its channel
is a vector lane), which lies in [-128 n, 127 n]: for n <= SUM_TABLE_MAX_N it is computed once per
input shape, by the arithmetic above, for every sum (`mean_sum_table`, `mean_hw_table`), and invoke
is one reduction and one lookup.
"""
from __future__ import annotations

import numpy as np

from .. import quant
from .registry import register

F32 = np.float32


def _axes(axis_arr, ndim):
    return tuple(sorted({int(a) % ndim for a in np.asarray(axis_arr).reshape(-1)}))


def mean_int8_hw_params(shape, in_zp, s_in, s_out, out_zp):
    """(bias, multiplier, shift, vector-lane mask) of optimized_integer_ops::Mean for an NHWC shape."""
    n = shape[1] * shape[2]
    temp = F32(F32(in_zp) * F32(s_in)) / F32(s_out)
    temp = F32(temp + F32(0.5)) if temp > 0 else F32(temp - F32(0.5))
    bias = out_zp - int(temp)
    real = F32(s_in) / F32(F32(n) * F32(s_out))
    mult, shift = quant.quantize_multiplier(float(real))
    depth = shape[3]
    vec = np.arange(depth) < (depth // 16) * 16  # MeanImpl's 16-channel vector loop, one thread
    return bias, mult, shift, vec


def mean_int8_hw(x, in_zp, s_in, s_out, out_zp, params=None):
    bias, mult, shift, vec = params or mean_int8_hw_params(x.shape, in_zp, s_in, s_out, out_zp)
    acc = x.sum(axis=(1, 2), keepdims=True, dtype=np.int64)
    return _hw_requantize(acc, bias, mult, shift, vec)


def _hw_requantize(acc, bias, mult, shift, vec):
    y = quant.requantize_lanes(acc, mult, shift, vec) + bias
    return np.clip(y, -128, 127).astype(np.int8)


def mean_hw_table(shape, in_zp, s_in, s_out, out_zp):
    """(table, per-channel offsets): mean_int8_hw of an NHWC input of this shape whose channel c sums
    to s is table[offsets[c] + s]. The scalar tail's results for every sum in [-128 n, 127 n] come
    first, the vector lanes' after them, each block 256 n long and starting at sum -128 n."""
    bias, mult, shift, vec = mean_int8_hw_params(shape, in_zp, s_in, s_out, out_zp)
    n = shape[1] * shape[2]
    sums = np.arange(-128 * n, 128 * n, dtype=np.int64)
    table = np.concatenate([_hw_requantize(sums, bias, mult, shift, np.zeros(1, bool)),
                            _hw_requantize(sums, bias, mult, shift, np.ones(1, bool))])
    return table, (128 * n + 256 * n * vec).astype(np.intp)


def mean_int8_general(x, axes, keep_dims, in_zp, mult, shift, out_zp):
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    total = x.sum(axis=axes, keepdims=keep_dims, dtype=np.int64)
    if n == 0:
        return np.zeros(total.shape, np.int8)
    return mean_int8_of_sum(total, n, in_zp, mult, shift, out_zp)


SUM_TABLE_MAX_N = 4096  # a table of 256 n int8 entries: 1 MiB at most


def mean_sum_table(n, in_zp, mult, shift, out_zp):
    """mean_int8_of_sum for every sum of n int8 values, indexed by the sum itself: entry i holds the
    result for sum i when i <= 127 n and for sum i - 256 n otherwise, so that NumPy's wrap-around of a
    negative index (-128 n <= sum < 0) reads the entry of that sum."""
    size = 256 * n
    sums = np.arange(size, dtype=np.int64)
    sums[sums > 127 * n] -= size
    return mean_int8_of_sum(sums, n, in_zp, mult, shift, out_zp)


def mean_int8_of_sum(total, n, in_zp, mult, shift, out_zp):
    """reference_ops::QuantizedMeanOrSum's requantization of the int64 sums `total` of n values."""
    total = np.array(total, np.int64)
    k = min(n.bit_length() - 1, 32, 31 + shift)
    m = (mult << k) // n
    total -= in_zp * n
    if shift - k <= 0 and m >= 0:
        y = quant.multiply_by_quantized_multiplier_right(total, m, shift - k)
    else:
        y = quant.multiply_by_quantized_multiplier(total, m, shift - k)
    y += out_zp
    return np.clip(y, -128, 127).astype(np.int8)


def _const_axes(ctx):
    """The reduction axes when the axis input is a load-time constant and the input rank is known."""
    a = ctx.const(1)
    rank = len(ctx.inputs[0].shape_signature)
    if a is None or rank == 0:
        return None
    return _axes(a, rank)


@register("MEAN")
def build_mean(ctx):
    keep = bool(ctx.options.get("keep_dims", False))
    dt = ctx.require_dtypes(("float32", "int8"))
    rank = len(ctx.inputs[0].shape_signature)
    fixed = _const_axes(ctx)  # None: read the axis input per call
    if dt == "float32":
        counts = {}  # (shape, axes) -> number of elements averaged

        def run_float(ins):
            x = ins[0]
            axes = fixed if fixed is not None and x.ndim == rank else _axes(ins[1], x.ndim)
            n = counts.get((x.shape, axes))
            if n is None:
                n = counts[(x.shape, axes)] = float(np.prod([x.shape[a] for a in axes]))
            s = np.add.reduce(x, axis=axes, dtype=np.float64, keepdims=keep)
            s /= n  # the float64 mean (sum / n), then rounded once to float32
            return [s.astype(F32)]

        return run_float
    s_in, z_in = ctx.qparams(ctx.inputs[0])
    s_out, z_out = ctx.qparams(ctx.outputs[0])
    mult, shift = quant.quantize_multiplier(float(F32(s_in)) / float(F32(s_out)))
    hw_params = {}  # by input shape
    tables = {}  # (input shape, axes) -> _tables(...)

    def run_int(ins):
        x = ins[0]
        axes = fixed if fixed is not None and x.ndim == rank else _axes(ins[1], x.ndim)
        hit = tables.get((x.shape, axes))
        if hit is None:
            hit = tables[(x.shape, axes)] = _tables(x.shape, axes)
        table, offsets = hit
        if table is None:
            if offsets is not None:  # the hw path past SUM_TABLE_MAX_N
                if x.shape not in hw_params:
                    hw_params[x.shape] = mean_int8_hw_params(x.shape, z_in, s_in, s_out, z_out)
                return [mean_int8_hw(x, z_in, s_in, s_out, z_out, hw_params[x.shape])]
            return [mean_int8_general(x, axes, keep, z_in, mult, shift, z_out)]
        s = np.add.reduce(x, axis=axes, dtype=np.intp, keepdims=keep)
        if offsets is not None:
            s += offsets
        return [np.asarray(table[s])]

    def _tables(shape, axes):
        """(table, None) for the general path, (table, per-channel offsets) for the hw path; table None
        past SUM_TABLE_MAX_N, then offsets True for the hw path."""
        n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
        small = 0 < n <= SUM_TABLE_MAX_N
        if keep and len(shape) == 4 and axes == (1, 2):
            if not small:
                return None, True
            return mean_hw_table(shape, z_in, s_in, s_out, z_out)
        return (mean_sum_table(n, z_in, mult, shift, z_out) if small else None), None

    return run_int


def _simple_reduce(ctx, fn):
    keep = bool(ctx.options.get("keep_dims", False))
    dt = ctx.require_dtypes(("float32", "int32", "int64", "int8"))
    if dt == "int8" and fn is np.sum:
        raise ctx.unsupported("int8 SUM")
    return lambda ins: [fn(ins[0], axis=_axes(ins[1], ins[0].ndim), keepdims=keep).astype(dt)]


@register("SUM")
def build_sum(ctx):
    return _simple_reduce(ctx, np.sum)


@register("REDUCE_MAX")
def build_reduce_max(ctx):
    return _simple_reduce(ctx, np.max)


@register("REDUCE_MIN")
def build_reduce_min(ctx):
    return _simple_reduce(ctx, np.min)


@register("REDUCE_PROD")
def build_reduce_prod(ctx):
    if ctx.dtype(0) not in ("float32", "int32", "int64"):
        raise ctx.unsupported(f"dtype {ctx.dtype(0)}")
    return _simple_reduce(ctx, np.prod)

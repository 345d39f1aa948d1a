"""The folded int8 output stage (ops/output_stage.py) equals ruy's step-by-step rounding exactly."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite import quant
from edgewise.runtime.tflite.ops import output_stage


def _stepwise(acc, mult, shift, bias, zp, lo, hi):
    y = quant.multiply_by_quantized_multiplier_ruy(acc.astype(np.int64) + bias, mult, shift) + zp
    return np.clip(y, lo, hi).astype(np.int8)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("acc_max", [1 << 14, 1 << 24])  # the float64 and the int64 arithmetic
def test_fold_equals_stepwise_ruy(seed, acc_max):
    rng = np.random.default_rng(seed)
    channels = 24
    scales = rng.uniform(1e-5, 0.9, channels)
    scales[:4] = [2.0 ** -1, 2.0 ** -5, 2.0 ** -9, 2.0 ** -12]  # M = 2^30: both roundings meet exact ties
    mult, shift = quant.quantize_multipliers(scales)
    bias = rng.integers(-(1 << 12), 1 << 12, channels)
    acc = rng.integers(-acc_max, acc_max + 1, (500, channels))
    acc[:8] = rng.integers(-2, 2, (8, channels)) * (1 << 12) + (1 << 11) - bias  # halves, after the bias
    zp = int(rng.integers(-128, 128))
    run = output_stage.fold(mult, shift, bias, zp, -128, 127, acc_max + (1 << 14))
    assert run.__name__ == ("run_float64" if acc_max < 1 << 20 else "run")  # both arithmetics are covered
    for a in (acc, acc.astype(np.float64)):
        np.testing.assert_array_equal(run(a), _stepwise(acc, mult, shift, bias, zp, -128, 127))


def test_fold_refuses_left_shifts_and_overflow():
    mult, shift = quant.quantize_multipliers([3.0, 0.5])  # 3.0 needs a left shift
    assert output_stage.fold(mult, shift, None, 0, -128, 127, 1000) is None
    mult, shift = quant.quantize_multipliers([0.5, 0.25])
    assert output_stage.fold(mult, shift, None, 0, -128, 127, 1 << 40) is None
    assert output_stage.fold(mult, shift, None, 0, -128, 127, 1 << 20) is not None


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("rows, k, channels", [(1, 64, 32), (300, 9, 3), (17, 130, 40)])
def test_fold_into_gemm_equals_stepwise_ruy(seed, rows, k, channels):
    """W' = W M 2^-s in float64: the GEMM over raw int8 rows gives the scaled accumulators exactly,
    ties included (M = 2^30 scales put acc * M on exact halves), with a ReLU-style clamp."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (k, channels))
    x = rng.integers(-128, 128, (rows, k))
    x[0] = 0
    x[1 % rows, :2] = [1, -1]
    scales = rng.uniform(1e-4, 0.5, channels)
    scales[: min(3, channels)] = [2.0 ** -1, 2.0 ** -7, 2.0 ** -12][: min(3, channels)]
    mult, shift = quant.quantize_multipliers(scales)
    x_zp, zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 100))
    bias = rng.integers(-(1 << 14), 1 << 14, channels)
    folded = bias - x_zp * w.sum(axis=0)
    acc_max = int(np.abs(w).sum(axis=0).max()) * 128
    lo, hi = zp, 127  # a fused ReLU: the output's zero point is the bottom
    gemm = output_stage.fold_into_gemm(w.astype(np.int8), mult, shift, folded, zp, lo, hi, acc_max)
    want = _stepwise(x @ w, mult, shift, folded, zp, lo, hi)  # raw rows; the zero point is in `folded`
    got = gemm.finish(x.astype(np.float64) @ gemm.w)  # as CONV_2D: im2col rows, then the stage
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int8 and got.shape == (rows, channels)
    for _ in range(2):  # as FULLY_CONNECTED: the bias row in the GEMM, through the reused buffer
        np.testing.assert_array_equal(gemm(x.astype(np.int8)), want)


def test_fold_into_gemm_refuses_what_float64_cannot_hold():
    mult, shift = quant.quantize_multipliers([0.5, 0.25])
    w = np.ones((4, 2), np.int8)
    assert output_stage.fold_into_gemm(w, mult, shift, None, 0, -128, 127, 1 << 30) is None  # 2^30 * 2^30 > 2^53
    assert output_stage.fold_into_gemm(w, mult, shift, None, 0, -128, 127, 1 << 20) is not None
    mult, shift = quant.quantize_multipliers([3.0, 0.5])  # a left shift
    assert output_stage.fold_into_gemm(w, mult, shift, None, 0, -128, 127, 1000) is None

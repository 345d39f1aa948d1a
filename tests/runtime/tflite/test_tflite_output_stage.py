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

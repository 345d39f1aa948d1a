"""float32 kernels whose arithmetic was rearranged for speed against their textbook formula in
float64: softmax (row maximum by fmax, NaN and infinite rows) and the tanh GELU (as a logistic,
with exp's argument capped), on the inputs where a rearrangement could go wrong."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from edgewise.runtime.tflite.ops import softmax
from edgewise.runtime.tflite.ops.registry import KERNELS


def _reference_softmax(x, beta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = x.astype(np.float64)
        z = (z - z.max(axis=-1, keepdims=True)) * beta
        e = np.exp(z)
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax_float_matches_the_formula_with_nan_and_inf_rows(beta):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 9)) * 30).astype(np.float32)
    x[0, 0, 3] = np.nan  # a NaN among numbers: the whole row is NaN
    x[0, 1, :] = np.nan
    x[1, 0, 2] = np.inf
    x[1, 1, :] = -np.inf
    x[2, 0, :] = 3e38  # exp of the differences only, no overflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = softmax.softmax_float(x, beta)
    want = _reference_softmax(x, beta)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=1e-6, atol=1e-7)


class _Ctx:
    """The part of OpContext the float32 GELU builder reads."""

    def __init__(self):
        self.options = {"approximate": True}

    def require_dtypes(self, allowed):
        return "float32"


def test_gelu_tanh_form_matches_the_formula_including_large_negative_inputs():
    run = KERNELS["GELU"](_Ctx())
    x = np.concatenate([np.linspace(-30, 30, 601), [-1e30, -3e38, 1e30, 0.0, -0.0, np.nan]]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from exp
        got = run([x])[0]
    x64 = x.astype(np.float64)
    u = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)
    with np.errstate(all="ignore"):
        # 1 + tanh(u) = exp(u) / cosh(u): no cancellation where tanh(u) is near -1
        want = (0.5 * x64 * np.exp(u) / np.cosh(u)).astype(np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(x))
    ok = np.isfinite(want) & ~np.isnan(x)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-6, atol=0)
    assert (np.abs(got[x < -30]) == 0).all() and (got[x > 30] == x[x > 30]).all()  # -1e30: -0.0; 1e30: x

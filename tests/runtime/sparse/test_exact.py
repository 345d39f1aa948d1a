"""The float type an exact plan computes in never rounds, and the bound is the tight one."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.sparse import exact_dtype, plan_matmul
from edgewise.runtime.sparse.exact import FLOAT32_EXACT, row_abs_sum_max

from ._weights import unstructured


def test_row_abs_sum_handles_int8_minimum():
    w = np.array([[-128, -128, 1], [127, 0, 0]], np.int8)
    assert row_abs_sum_max(w) == 257


def test_pruning_lets_an_int8_layer_use_float32():
    rng = np.random.default_rng(1)
    dense = unstructured(rng, (64, 1024), 0.0, integer=True)
    pruned = unstructured(rng, (64, 1024), 0.9, integer=True)
    assert exact_dtype(dense, 255) == np.float64  # 1024 * 127 * 255 > 2^24
    assert exact_dtype(pruned, 255) == np.float32
    assert exact_dtype(np.full((2, 2), 2**30, np.int32), 2**30) == np.int64  # 2^61 > 2^53


def _float32_rounds_here():
    """A row whose exact sum needs 25 bits: float32 accumulation gets it wrong."""
    w = np.array([[1] * 600], np.int32) * 127
    x = np.full((1, 600), 255, np.int32)
    x[0, -1] = 2  # sum = 127 * (599*255 + 2): odd and above 2^24
    return w, x


def test_above_two_to_the_24_float32_is_not_exact_but_the_plan_is():
    w, x = _float32_rounds_here()
    exact = int((x.astype(np.int64) @ w.T.astype(np.int64))[0, 0])
    assert exact > FLOAT32_EXACT and exact % 2 == 1
    f32 = np.cumsum(x[0].astype(np.float32) * w[0].astype(np.float32), dtype=np.float32)[-1]
    assert int(f32) != exact  # the hazard is real
    for kind in ("dense", "csr"):
        plan = plan_matmul(w, exact_int=True, kind=kind)
        assert plan.dtype == np.float64
        assert int(plan(x)[0, 0]) == exact


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_at_the_float32_bound_results_stay_exact(kind):
    """S * X == 2^24 exactly: the largest case float32 is chosen for, with worst-case signs."""
    w = np.full((3, 512), 128, np.int16)
    w[1] = -128
    w[2, ::2] = -128
    x = np.full((2, 512), 256, np.int32)
    x[1, ::3] = -256
    plan = plan_matmul(w, exact_int=True, x_abs_max=256, kind=kind)
    assert plan.dtype == np.float32
    np.testing.assert_array_equal(plan(x), x.astype(np.int64) @ w.T.astype(np.int64))


def test_int64_fallback_for_huge_values():
    w = np.array([[2**40, -(2**40)], [3, 2**41]], np.int64)
    plan = plan_matmul(w, exact_int=True, x_abs_max=2**20, kind="csr")
    assert plan.dtype == np.int64
    x = np.array([[2**20, -(2**20) + 1]], np.int64)
    np.testing.assert_array_equal(plan(x), x @ w.T)

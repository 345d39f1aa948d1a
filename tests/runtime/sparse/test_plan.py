"""Every plan kind computes x @ W.T: bit-exact for integers, to float rounding for floats."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.sparse import PlanInfo, plan_matmul

from ._weights import blocks, n_of_m, unstructured

SHAPE = (96, 128)


def _weights(kind: str, rng, integer: bool) -> np.ndarray:
    if kind == "nm":
        return n_of_m(rng, SHAPE, 2, 4, integer)
    if kind == "block":
        return blocks(rng, SHAPE, 4, 4, 0.8, integer)
    return unstructured(rng, SHAPE, 0.85, integer)


def _int_inputs(rng, batch: int, k: int = SHAPE[1]) -> np.ndarray:
    """x - zero_point for an int8 input: integers in [-255, 255], extremes included."""
    x = rng.integers(-255, 256, (batch, k)).astype(np.int32)
    x[0, :2] = (-255, 255)
    return x


def _assert_float_close(y, w, x):
    """Within 1e-6 of the float64 product, relative to sum |w||x| (the scale of rounding errors)."""
    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    scale = np.abs(x).astype(np.float64) @ np.abs(w).T.astype(np.float64)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6 * float(scale.max()))


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("kind", ["dense", "csr", "nm", "block"])
def test_integer_product_is_bit_exact(kind, batch):
    rng = np.random.default_rng(11)
    w = _weights(kind, rng, integer=True)
    plan = plan_matmul(w, exact_int=True, kind=kind)
    x = _int_inputs(rng, batch)
    y = plan(x)
    assert plan.kind == kind and y.dtype == np.int64 and y.shape == (batch, SHAPE[0])
    np.testing.assert_array_equal(y, x.astype(np.int64) @ w.T.astype(np.int64))
    # the caller may also hand over x - zp as float
    np.testing.assert_array_equal(plan(x.astype(np.float32)), y)


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("kind", ["dense", "csr", "nm", "block"])
def test_float_product_matches_dense(kind, batch):
    rng = np.random.default_rng(12)
    w = _weights(kind, rng, integer=False)
    plan = plan_matmul(w, exact_int=False, kind=kind)
    x = rng.standard_normal((batch, SHAPE[1])).astype(np.float32)
    y = plan(x)
    assert plan.kind == kind and y.dtype == np.float32 and y.shape == (batch, SHAPE[0])
    _assert_float_close(y, w, x)
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["csr", "block"])
def test_empty_rows_and_columns(kind):
    rng = np.random.default_rng(13)
    w = _weights(kind, rng, integer=True)
    w[[0, 5, 6, 7, 95], :] = 0  # empty rows, including the first, the last and a run of three
    w[:, [0, 64, 65, 66, 67, 127]] = 0
    plan = plan_matmul(w, exact_int=True, kind=kind)
    x = _int_inputs(rng, 8)
    y = plan(x)
    np.testing.assert_array_equal(y, x.astype(np.int64) @ w.T.astype(np.int64))
    assert not y[:, [0, 5, 6, 7, 95]].any()


def test_nm_groups_with_fewer_than_n_nonzeros():
    rng = np.random.default_rng(14)
    w = n_of_m(rng, SHAPE, 2, 4, integer=True)
    w[3, :40] = 0  # partly empty row: its groups pad with zero slots
    w[10, :] = 0
    plan = plan_matmul(w, exact_int=True, kind="nm")
    x = _int_inputs(rng, 3)
    np.testing.assert_array_equal(plan(x), x.astype(np.int64) @ w.T.astype(np.int64))


@pytest.mark.parametrize("exact_int", [True, False])
def test_all_zero_weights(exact_int):
    w = np.zeros(SHAPE, np.int8 if exact_int else np.float32)
    plan = plan_matmul(w, exact_int=exact_int)
    assert plan.kind == "dense" and plan.describe().density == 0.0
    y = plan(np.ones((2, SHAPE[1]), np.int32 if exact_int else np.float32))
    assert y.shape == (2, SHAPE[0]) and not y.any()
    with pytest.raises(ValueError, match="cannot force kind 'csr'"):
        plan_matmul(w, exact_int=exact_int, kind="csr")


def test_plan_follows_density_by_the_cost_model():
    rng = np.random.default_rng(15)
    shape = (512, 512)
    assert plan_matmul(unstructured(rng, shape, 0.10), exact_int=False, calibrate=False).kind == "dense"
    assert plan_matmul(unstructured(rng, shape, 0.98), exact_int=False, calibrate=False).kind == "csr"
    assert plan_matmul(blocks(rng, shape, 16, 1, 0.9), exact_int=False, calibrate=False).kind == "block"
    assert plan_matmul(blocks(rng, shape, 8, 8, 0.9), exact_int=False, calibrate=False).kind == "block"
    # 2:4 is recognised, but its gather touches half of W: dense BLAS is faster here
    two_four = plan_matmul(n_of_m(rng, shape, 2, 4), exact_int=False, calibrate=False)
    assert two_four.structure.nm == (2, 4) and two_four.kind == "dense"


def test_timed_choice_picks_sparse_when_far_faster_and_dense_when_far_slower():
    rng = np.random.default_rng(16)
    shape = (1024, 1024)
    sparse = plan_matmul(unstructured(rng, shape, 0.99), exact_int=False)
    dense = plan_matmul(unstructured(rng, shape, 0.10), exact_int=False)
    assert sparse.kind == "csr" and sparse.describe().measured
    assert sparse.describe().chosen_us < sparse.describe().dense_us
    assert dense.kind == "dense"


def test_batches_above_max_batch_run_dense_and_stay_exact():
    rng = np.random.default_rng(17)
    w = unstructured(rng, (256, 256), 0.97, integer=True)
    plan = plan_matmul(w, exact_int=True, kind="csr")
    plan.max_batch = 2
    x = rng.integers(-255, 256, (3, 256))
    np.testing.assert_array_equal(plan(x), x @ w.T.astype(np.int64))
    assert plan._dense is not None  # the fallback was built from the sparse layout


def test_block_fallback_densifies_padding_slots_exactly():
    rng = np.random.default_rng(18)
    w = blocks(rng, (64, 64), 4, 4, 0.8, integer=True)
    w[:4, :] = 0  # a strip with no block: all of its slots are padding at column 0
    plan = plan_matmul(w, exact_int=True, kind="block")
    plan.max_batch = 1
    x = rng.integers(-255, 256, (5, 64))
    np.testing.assert_array_equal(plan(x), x @ w.T.astype(np.int64))


def test_conv_through_im2col_uses_the_reshaped_filter():
    """CONV_2D (NHWC input, OHWI filter, VALID, stride 1) = im2col patches @ filter.reshape(O, -1).T."""
    rng = np.random.default_rng(19)
    n, h, wd, cin, cout, k = 2, 9, 9, 16, 32, 3
    filt = blocks(rng, (cout, k * k * cin), 4, 4, 0.85, integer=True).reshape(cout, k, k, cin)
    x = rng.integers(-255, 256, (n, h, wd, cin)).astype(np.int32)
    oh, ow = h - k + 1, wd - k + 1
    patches = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # (n, oh, ow, cin, k, k)
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, k * k * cin)
    plan = plan_matmul(filt.reshape(cout, -1), exact_int=True, kind="block")
    y = plan(patches).reshape(n, oh, ow, cout)
    ref = np.zeros((n, oh, ow, cout), np.int64)
    for i in range(k):
        for j in range(k):
            ref += np.einsum("nhwc,oc->nhwo", x[:, i:i + oh, j:j + ow, :].astype(np.int64),
                             filt[:, i, j, :].astype(np.int64))
    np.testing.assert_array_equal(y, ref)


def test_describe_reports_kind_density_and_bytes():
    rng = np.random.default_rng(20)
    w = blocks(rng, (256, 256), 16, 1, 0.9)
    plan = plan_matmul(w, exact_int=False, kind="block", name="model.tflite: FULLY_CONNECTED 'fc1' weights")
    info = plan.describe()
    assert info.kind == "block" and info.structure == "block 16x1" and info.shape == (256, 256)
    assert info.density == pytest.approx(np.count_nonzero(w) / w.size)
    assert info.dense_nbytes == w.nbytes and info.nbytes < info.dense_nbytes / 3
    assert PlanInfo.from_dict(info.to_dict()) == info
    assert "fc1" in repr(plan)


def test_errors_name_the_weights():
    w = np.ones((4, 8), np.int8)
    plan = plan_matmul(w, exact_int=True, x_abs_max=255, name="m.tflite: FULLY_CONNECTED 'fc' weights 'w'")
    with pytest.raises(ValueError, match="'fc'.*does not fit"):
        plan(np.ones((1, 7), np.int32))
    with pytest.raises(ValueError, match="'fc'.*exceeds the bound 255"):
        plan(np.full((1, 8), 300, np.int32))
    small = plan_matmul(w, exact_int=True, x_abs_max=127, name="m.tflite: FULLY_CONNECTED 'fc' weights 'w'")
    with pytest.raises(ValueError, match="magnitude 128 exceeds the bound 127"):
        small(np.full((1, 8), -128, np.int8))
    with pytest.raises(ValueError, match="'fc'.*integer weights"):
        plan_matmul(w.astype(np.float32), exact_int=True, name="m.tflite: FULLY_CONNECTED 'fc' weights 'w'")
    with pytest.raises(ValueError, match="unknown plan kind"):
        plan_matmul(w, exact_int=True, kind="coo")


def test_skewed_rows_are_sliced_and_stay_exact():
    """A few dense rows among sparse ones: padding every row to the longest would store ~8x more."""
    rng = np.random.default_rng(21)
    w = unstructured(rng, (256, 512), 0.95, integer=True)
    w[[3, 100, 200]] = unstructured(rng, (3, 512), 0.0, integer=True)
    plan = plan_matmul(w, exact_int=True, kind="csr")
    layout = plan._layout
    assert len(layout.slices) > 1
    assert layout.slots < 2 * np.count_nonzero(w) < 256 * 512 / 4
    for batch in (1, 8):
        x = _int_inputs(rng, batch, 512)
        np.testing.assert_array_equal(plan(x), x.astype(np.int64) @ w.T.astype(np.int64))


def test_cost_model_limits_the_batch_where_gathers_lose_to_blas():
    rng = np.random.default_rng(22)
    plan = plan_matmul(blocks(rng, (1024, 1024), 1, 4, 0.9), exact_int=False, calibrate=False)
    assert plan.kind == "block" and plan.max_batch is not None and 1 <= plan.max_batch < 4096
    assert plan_matmul(blocks(rng, (1024, 1024), 16, 1, 0.9), exact_int=False, calibrate=False).max_batch is None


def test_conv_with_many_patch_rows_is_planned_on_a_bounded_sample():
    """batch_hint = N*OH*OW can be thousands of rows; timing uses at most TIMING_MAX_ROWS of them."""
    rng = np.random.default_rng(23)
    filt = blocks(rng, (64, 3 * 3 * 32), 16, 1, 0.9, integer=True)
    patches = rng.integers(-255, 256, (2048, 3 * 3 * 32))
    plan = plan_matmul(filt, exact_int=True, batch_hint=2048)
    assert plan.describe().measured  # timed on 256 rows, extrapolated to 2048
    np.testing.assert_array_equal(plan(patches), patches @ filt.T.astype(np.int64))


def test_transposed_view_and_odd_shapes():
    """ONNX MatMul hands over B.T (a non-contiguous view); sizes need not divide any block or group."""
    rng = np.random.default_rng(24)
    b = unstructured(rng, (37, 53), 0.9)  # (K, N) for y = A @ B
    x = rng.standard_normal((5, 37)).astype(np.float32)
    for kind in ("dense", "csr", "auto"):
        plan = plan_matmul(b.T, exact_int=False, kind=kind)
        assert plan.structure.nm is None and plan.structure.block is None
        _assert_float_close(plan(x), b.T, x)
    empty = plan_matmul(np.zeros((0, 8), np.int8), exact_int=True)
    assert empty(np.ones((3, 8), np.int32)).shape == (3, 0)

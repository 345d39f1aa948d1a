"""Layout adapters: which artifact input is which, and how the user's arrays are transposed to fit."""
import numpy as np
import pytest

from edgewise.converters.layout import adapt, for_model, infer_perm, match_inputs, pair, restore


def test_nchw_to_nhwc_is_found_from_the_shapes():
    assert infer_perm((None, 3, 32, 24), (1, 32, 24, 3), channels_last=False) == (0, 2, 3, 1)
    assert infer_perm((None, 3, 32, 24), (None, 3, 32, 24), channels_last=True) == ()
    assert infer_perm((None, 3, 32, 24), (1, 24, 32, 3), channels_last=True) is None


def test_a_square_image_is_ambiguous_and_the_converter_decides():
    # (N, 8, 8, 8): both layouts fit by shape; onnx2tf moves channels, the TFLiteConverter does not
    assert infer_perm((4, 8, 8, 8), (1, 8, 8, 8), channels_last=True) == (0, 2, 3, 1)
    assert infer_perm((4, 8, 8, 8), (1, 8, 8, 8), channels_last=False) == ()


def test_inputs_are_matched_by_name_whatever_the_order():
    layouts = match_inputs(["image", "meta"], [(2, 3, 8, 6), (2, 5)],
                           ["serving_default_meta:0", "serving_default_image:0"], [(None, 5), (None, 8, 6, 3)],
                           channels_last=True)
    assert [(lay.name, lay.artifact_name, lay.perm) for lay in layouts] == [
        ("image", "serving_default_image:0", (0, 2, 3, 1)), ("meta", "serving_default_meta:0", ())]
    assert "NCHW -> NHWC" in layouts[0].description


def test_adapt_feeds_the_artifact_the_transposed_user_data():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    m = np.ones((2, 7), np.float32)
    layouts = match_inputs(["x", "m"], [x.shape, m.shape], ["x", "m"], [(None, 4, 5, 3), (None, 7)], True)
    fed = adapt({"x": x, "m": m}, layouts)
    assert fed["x"].shape == (2, 4, 5, 3)
    assert fed["x"][1, 2, 3, 0] == x[1, 0, 2, 3]  # channel 0 of pixel (2, 3) of sample 1
    assert fed["m"] is m


def test_restore_undoes_the_output_transpose():
    y = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    moved = np.transpose(y, (0, 2, 3, 1))
    np.testing.assert_array_equal(restore(moved, (0, 2, 3, 1)), y)


def test_outputs_without_useful_names_pair_by_shape():
    pairs = pair(["scores", "boxes"], [(4, 10), (4, 7, 2)], ["Identity", "Identity_1"], [(4, 7, 2), (4, 10)],
                 False, "output")
    assert pairs == [(1, ()), (0, ())]


def test_a_shape_that_fits_no_layout_is_an_error_naming_both_tensors():
    with pytest.raises(ValueError) as e:
        match_inputs(["x"], [(2, 3, 4)], ["serving_default_x:0"], [(None, 9, 9)], True)
    assert "'x'" in str(e.value) and "serving_default_x:0" in str(e.value)


def test_for_model_keys_by_the_runtime_tensor_names():
    x, m = np.zeros((1, 3, 2, 2), np.float32), np.ones((1, 4), np.float32)
    layouts = match_inputs(["x", "m"], [x.shape, m.shape], ["x", "m"], [(None, 2, 2, 3), (None, 4)], True)
    fed = for_model(["serving_default_m:0", "serving_default_x:0"], {"x": x, "m": m}, layouts)
    assert fed["serving_default_x:0"].shape == (1, 2, 2, 3) and fed["serving_default_m:0"] is m

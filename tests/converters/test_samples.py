"""The user's .npz is bound to the model's inputs by name, with errors that name the file and the input."""
import numpy as np
import pytest

from edgewise.converters.samples import as_feeds, load_npz


def test_single_input_takes_x_and_ignores_labels(tmp_path):
    path = tmp_path / "calib.npz"
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.savez(path, x=x, y=np.array([0, 1, 2]))
    feeds = as_feeds(str(path), ["features"], "model")
    assert list(feeds) == ["features"]
    np.testing.assert_array_equal(feeds["features"], x)


def test_multi_input_binds_by_name_not_by_order(tmp_path):
    path = tmp_path / "calib.npz"
    a, b = np.zeros((2, 3), np.float32), np.ones((2, 5), np.float32)
    np.savez(path, right=b, left=a)
    feeds = as_feeds(str(path), ["left", "right"], "model")
    assert feeds["left"].shape == (2, 3) and feeds["right"].shape == (2, 5)


def test_missing_input_is_named_with_the_file(tmp_path):
    path = tmp_path / "calib.npz"
    np.savez(path, left=np.zeros((2, 3)))
    with pytest.raises(ValueError) as e:
        as_feeds(str(path), ["left", "right"], "model")
    assert str(path) in str(e.value) and "'right'" in str(e.value)


def test_sample_counts_must_agree():
    with pytest.raises(ValueError, match="different sample counts"):
        as_feeds({"a": np.zeros((2, 3)), "b": np.zeros((3, 3))}, ["a", "b"], "calib")


def test_a_bare_array_for_a_two_input_model_is_refused():
    with pytest.raises(ValueError, match="2 inputs"):
        as_feeds(np.zeros((2, 3)), ["a", "b"], "calib")


def test_unreadable_npz_names_the_file(tmp_path):
    bad = tmp_path / "calib.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=str(bad)):
        load_npz(bad)

"""Data loading: errors name the file and the array; the digits split is fixed and disjoint."""
import numpy as np
import pytest

from edgewise.data import DataError, Dataset, load_digits_splits, load_npz, save_npz

pytestmark = pytest.mark.host


def test_round_trip(tmp_path):
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float64)
    y = np.arange(5)
    p = tmp_path / "d.npz"
    np.savez(p, x=x, y=y)
    d = load_npz(p, require_labels=True)
    assert d.x.dtype == np.float32 and d.y.dtype == np.int64 and len(d) == 5
    save_npz(tmp_path / "e.npz", d)
    e = load_npz(tmp_path / "e.npz")
    assert np.array_equal(e.x, d.x) and np.array_equal(e.y, d.y)


@pytest.mark.parametrize("arrays, needle", [
    ({"images": np.zeros((2, 3))}, "array 'x' is missing"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(2, np.int64)}, "array 'y' has 2 labels but array 'x' has 3"),
    ({"x": np.array([[np.nan, 1.0]])}, "array 'x' holds 1 NaN"),
    ({"x": np.zeros((2, 2)), "y": np.array([0.5, 1.0])}, "array 'y' has dtype float64"),
    ({"x": np.zeros((2, 2)), "y": np.zeros((2, 2), np.int64)}, "array 'y' has shape (2, 2)"),
    ({"x": np.zeros((0, 2))}, "array 'x' has shape (0, 2)"),
])
def test_errors_name_file_and_array(tmp_path, arrays, needle):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError) as e:
        load_npz(p)
    assert str(p) in str(e.value) and needle in str(e.value)


def test_labels_required(tmp_path):
    p = tmp_path / "nolabels.npz"
    np.savez(p, x=np.zeros((2, 2), np.float32))
    assert load_npz(p).y is None
    with pytest.raises(DataError, match="nolabels.npz: array 'y' .* is missing"):
        load_npz(p, require_labels=True)


def test_not_an_npz(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"definitely not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_npz(p)
    with pytest.raises(DataError, match="no such file"):
        load_npz(tmp_path / "missing.npz")


def test_digits_split_is_deterministic_and_disjoint():
    a, b = load_digits_splits(0), load_digits_splits(0)
    assert np.array_equal(a.heldout.x, b.heldout.x)
    assert a.train.x.shape[1:] == (8, 8, 1) and a.train.x.dtype == np.float32
    assert 0.0 <= a.train.x.min() and a.train.x.max() <= 1.0
    sizes = (len(a.train), len(a.calibration), len(a.heldout))
    assert sizes == (1237, 200, 360)
    rows = lambda d: {r.tobytes() for r in d.x}  # noqa: E731
    # the digits set has a handful of duplicate images; the split itself must not reuse samples
    assert len(rows(a.train) & rows(a.heldout)) < 5
    assert set(np.unique(a.heldout.y)) == set(range(10))


def test_dataset_checks_in_memory():
    with pytest.raises(DataError, match="<memory>: array 'y' has 1 labels"):
        Dataset(np.zeros((2, 3), np.float32), np.zeros(1, np.int64))

"""Datasets the pipeline reads: `.npz` files with `x` (and `y` labels), and the bundled digits demo.

A calibration set drives int8 quantization ranges and conversion checks, so it needs only `x`;
an evaluation set needs `y` too. Errors name the file and the array at fault, because a
mislabelled or mis-shaped array otherwise surfaces much later as a baffling accuracy figure.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from typing import Optional

import numpy as np


class DataError(ValueError):
    """A data file or array is missing, malformed, or inconsistent."""


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class Dataset:
    """Inputs `x` (first axis = samples) and optional integer class labels `y`."""

    x: np.ndarray
    y: Optional[np.ndarray] = None
    source: str = "<memory>"

    def __post_init__(self):
        _check_arrays(self.x, self.y, self.source, require_labels=False)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def has_labels(self) -> bool:
        return self.y is not None

    def take(self, n: int) -> "Dataset":
        """The first `n` samples (all of them if there are fewer)."""
        return Dataset(self.x[:n], None if self.y is None else self.y[:n], self.source)

    def labels(self) -> np.ndarray:
        """`y`, or an error saying which dataset lacks it."""
        if self.y is None:
            raise DataError(f"{self.source}: array 'y' (labels) is needed here but the dataset has none")
        return self.y


def _check_arrays(x, y, source: str, require_labels: bool) -> None:
    if not isinstance(x, np.ndarray):
        raise DataError(f"{source}: array 'x' must be a NumPy array, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise DataError(f"{source}: array 'x' has shape {x.shape}; it needs at least one sample along axis 0")
    if x.dtype.kind not in "fiu":
        raise DataError(f"{source}: array 'x' has dtype {x.dtype}; expected a numeric type")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise DataError(f"{source}: array 'x' holds {bad} NaN or infinite value(s)")
    if y is None:
        if require_labels:
            raise DataError(f"{source}: array 'y' (labels) is missing; evaluation needs integer class labels")
        return
    if not isinstance(y, np.ndarray):
        raise DataError(f"{source}: array 'y' must be a NumPy array, got {type(y).__name__}")
    if y.ndim != 1:
        raise DataError(f"{source}: array 'y' has shape {y.shape}; expected one integer class label per sample")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.equal(np.mod(y, 1), 0)):
            pass
        else:
            raise DataError(f"{source}: array 'y' has dtype {y.dtype}; expected integer class labels")
    if y.shape[0] != x.shape[0]:
        raise DataError(f"{source}: array 'y' has {y.shape[0]} labels but array 'x' has {x.shape[0]} samples")
    if y.size and y.min() < 0:
        raise DataError(f"{source}: array 'y' holds negative label {int(y.min())}")


def load_npz(path: "str | os.PathLike", *, require_labels: bool = False) -> Dataset:
    """Read an `.npz` holding `x` (and `y`); float `x` is cast to float32, `y` to int64."""
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise DataError(f"{source}: no such file")
    try:
        with np.load(source, allow_pickle=False) as f:
            names = list(f.files)
            if "x" not in names:
                raise DataError(f"{source}: array 'x' is missing (the file holds {names or 'no arrays'})")
            x = f["x"]
            y = f["y"] if "y" in names else None
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{source}: not a readable .npz file ({e})") from None
    if x.dtype.kind == "f" and x.dtype != np.float32:
        x = x.astype(np.float32)
    _check_arrays(x, y, source, require_labels)
    if y is not None:
        y = y.astype(np.int64)
    return Dataset(x, y, source)


def save_npz(path: "str | os.PathLike", data: Dataset) -> None:
    """Write a dataset as `.npz` (atomically), the format `load_npz` reads."""
    import io

    from .fileio import write_bytes_atomic

    buf = io.BytesIO()
    arrays = {"x": data.x} if data.y is None else {"x": data.x, "y": data.y}
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


@dataclass(frozen=True, eq=False)
class DigitsSplits:
    """The demo data: train (fit and fine-tune), calibration (quantize, verify), held-out (accuracy)."""

    train: Dataset
    calibration: Dataset
    heldout: Dataset


def load_digits_splits(seed: int = 0, calibration: int = 200, heldout: int = 360) -> DigitsSplits:
    """scikit-learn's 8x8 handwritten digits (1,797 images, bundled, no network), shape (N, 8, 8, 1) in [0, 1].

    One seeded permutation cuts it into disjoint train / calibration / held-out sets, so every run
    and every test sees the same samples.
    """
    from ._extras import require

    datasets = require("sklearn.datasets", "the digits demo data")
    digits = datasets.load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_train = len(x) - calibration - heldout
    if n_train <= 0:
        raise DataError(f"sklearn digits: {len(x)} samples cannot hold {calibration} calibration + {heldout} held-out")
    cut1, cut2 = n_train, n_train + calibration
    return DigitsSplits(
        train=Dataset(x[:cut1], y[:cut1], "digits[train]"),
        calibration=Dataset(x[cut1:cut2], y[cut1:cut2], "digits[calibration]"),
        heldout=Dataset(x[cut2:], y[cut2:], "digits[heldout]"),
    )

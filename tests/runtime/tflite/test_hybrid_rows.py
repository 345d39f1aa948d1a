"""Dynamic-range row quantization: the one-row path (Python scalars for the row's parameters)
gives the arrays of the vectorized path, which the conformance suite holds to LiteRT's."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite.ops import hybrid


def _rows(kind: str, rng, k: int) -> np.ndarray:
    x = (rng.standard_normal((1, k)) * 10.0 ** rng.integers(-3, 3)).astype(np.float32)
    if kind == "positive":
        return np.abs(x)
    if kind == "negative":
        return -np.abs(x)
    if kind == "zero":
        return np.zeros_like(x)
    if kind == "ties":
        return (np.round(x * 4) / 4).astype(np.float32)
    return x


@pytest.mark.parametrize("kind", ["mixed", "positive", "negative", "zero", "ties"])
@pytest.mark.parametrize("fn", [hybrid.asymmetric_rows, hybrid.symmetric_rows])
def test_one_row_matches_the_vectorized_rows(fn, kind):
    rng = np.random.default_rng(11)
    for _ in range(200):
        x = _rows(kind, rng, int(rng.integers(1, 40)))
        q1, s1 = fn(x)
        q2, s2 = fn(np.concatenate([x, x]))  # two rows: the vectorized path
        assert q1.dtype == np.float32 and s1.dtype == np.float32
        np.testing.assert_array_equal(q1, q2[:1])
        np.testing.assert_array_equal(s1, s2[:1])


def test_rows_dequantize_to_the_input_within_one_step():
    x = np.array([[-1.0, 0.0, 0.5, 3.0, 2.25, -0.3]], np.float32)
    for fn in (hybrid.asymmetric_rows, hybrid.symmetric_rows):
        q, sf = fn(x)  # q - offset: the row's values in units of sf
        assert np.abs(q * sf[0] - x).max() <= sf[0]

"""The tensor-size ceiling (runtime/limits.py) on the checked-in ONNX fixture: at load and, for shapes
fed at run time, before the engine allocates. NumPy only: runs in the device lane.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgewise.runtime import InputError, ModelFormatError, load

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tiny_cnn.onnx"


def test_fixture_loads_and_its_shapes_are_inferred_through_shape_arithmetic():
    model = load(FIXTURE, backend="numpy")
    shapes = model._engine.bounds.shapes
    # Shape -> Gather -> Concat -> Reshape is evaluated at load, so the Reshape's output is known.
    assert shapes["f"] == (1, 36) and shapes["probs"] == (1, 3)
    y = model.run(np.zeros((2, 2, 12, 12), np.float32))[0]
    assert y.shape == (2, 3)


def test_run_time_shapes_are_checked_against_the_ceiling_before_running():
    # At N=1 every buffer fits in 6000 bytes (the largest, the conv's float32 im2col columns, is 2 x 9 x 36 x 4 =
    # 2592 bytes); at N=4 the conv's padded input alone is 4 x 2 x 14 x 14 x 4 = 6272 bytes.
    model = load(FIXTURE, backend="numpy", max_tensor_bytes=6000)
    model.run(np.zeros((1, 2, 12, 12), np.float32))
    with pytest.raises(InputError, match=r"node 'conv' \(Conv\).*the padded input for output tensor 'c'.*over the ceiling"):
        model.run(np.zeros((4, 2, 12, 12), np.float32))


def test_max_tensor_bytes_refuses_at_load():
    with pytest.raises(ModelFormatError, match=r"node 'conv' \(Conv\).*the padded input.*over the ceiling of 1000 bytes"):
        load(FIXTURE, backend="numpy", max_tensor_bytes=1000)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_max_tensor_bytes_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="max_tensor_bytes must be a positive number of bytes"):
        load(FIXTURE, backend="numpy", max_tensor_bytes=bad)



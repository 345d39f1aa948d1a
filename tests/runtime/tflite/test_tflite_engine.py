"""The NumPy TFLite backend behind `edgewise.runtime.load`, as users call it."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime import ModelFormatError, load


@pytest.fixture(scope="session")
def demo_int8_path(converted, tmp_path_factory):
    path = tmp_path_factory.mktemp("tflite") / "demo_int8.tflite"
    path.write_bytes(converted.get("demo", "int8"))
    return path


def test_load_numpy_backend_matches_litert_builtin(demo_int8_path):
    pytest.importorskip("ai_edge_litert")
    ours = load(demo_int8_path, backend="numpy")
    ref = load(demo_int8_path, backend="litert-builtin")
    assert ours.backend.name == "numpy"
    assert ours.inputs == ref.inputs and ours.outputs == ref.outputs
    x = np.random.default_rng(4).standard_normal((5, 8, 8, 1)).astype(np.float32) * 2
    (a,), (b,) = ours.run(x, quantize=True), ref.run(x, quantize=True)
    assert a.dtype == np.float32 and a.shape == (5, 10)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=0.05)  # a softmax, dequantized


def test_keep_intermediates_names_every_computed_tensor(demo_int8_path):
    model = load(demo_int8_path, backend="numpy")
    x = np.zeros((1, 8, 8, 1), np.int8)
    every = model.run(x, keep_intermediates=True)
    assert model.inputs[0].name in every and model.outputs[0].name in every
    assert all(isinstance(v, np.ndarray) for v in every.values())
    assert len(every) >= 10


def test_truncated_file_names_the_file(demo_int8_path, tmp_path):
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(demo_int8_path.read_bytes()[:700])
    with pytest.raises(ModelFormatError) as info:
        load(bad, backend="numpy")
    assert str(bad) in str(info.value)

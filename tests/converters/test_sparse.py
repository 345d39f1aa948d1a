"""TFLite's sparse tensor encoding is kept only when it makes the file smaller, and the result says who can run it."""
import numpy as np
import pytest

from edgewise.converters import TFLiteOptions, convert
from edgewise.runtime.summary import inspect_model

from ..runtime.conformance import models as conformance

pytestmark = pytest.mark.host
pytest.importorskip("tensorflow", reason="needs the host extra (TensorFlow)")
pytest.importorskip("ai_edge_litert", reason="needs the host extra (LiteRT)")


def _pruned(build, sparsity: float):
    """A conformance model with the smallest `sparsity` share of each kernel set to zero (magnitude pruning)."""
    model = build()
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            k = layer.kernel.numpy()
            k[np.abs(k) < np.quantile(np.abs(k), sparsity)] = 0.0
            layer.kernel.assign(k)
    return model


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).uniform(-1, 1, (64, 20)).astype(np.float32)


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_auto_keeps_whichever_encoding_is_smaller(tmp_path, features, quantize):
    model = _pruned(conformance.mlp, 0.9)
    dense = convert(model, tmp_path / "dense.tflite", to="tflite", quantize=quantize, calibration=features,
                    tflite_options=TFLiteOptions(sparse="never"))
    sparse = convert(model, tmp_path / "sparse.tflite", to="tflite", quantize=quantize, calibration=features,
                     tflite_options=TFLiteOptions(sparse="always"))
    auto = convert(model, tmp_path / "auto.tflite", to="tflite", quantize=quantize, calibration=features)
    assert auto.size_bytes == min(dense.size_bytes, sparse.size_bytes)
    assert auto.sparse_encoding == (sparse.size_bytes < dense.size_bytes)
    assert any(w.stored_sparse for w in inspect_model(sparse.path).weights)
    assert not any(w.stored_sparse for w in inspect_model(dense.path).weights)
    assert sparse.verification.passed and dense.verification.passed


def test_int8_sparse_cnn_is_reported_as_not_running_on_xnnpack(tmp_path):
    """LiteRT's XNNPACK delegate refuses the demo CNN's sparse int8 FULLY_CONNECTED; the result must say so."""
    images = np.random.default_rng(1).uniform(0, 1, (48, 8, 8, 1)).astype(np.float32)
    r = convert(_pruned(conformance.demo_cnn, 0.9), tmp_path / "s.tflite", to="tflite", quantize="int8",
                calibration=images, tflite_options=TFLiteOptions(sparse="always"))
    support = {s.runtime: s for s in r.runtimes}
    assert support["LiteRT (builtin reference kernels)"].supported
    xnnpack = support["LiteRT default (XNNPACK delegate)"]
    assert not xnnpack.supported and xnnpack.reason


def test_float_sparse_file_runs_everywhere(tmp_path, features):
    r = convert(_pruned(conformance.mlp, 0.9), tmp_path / "f.tflite", to="tflite", calibration=features,
                tflite_options=TFLiteOptions(sparse="always"))
    assert all(s.supported for s in r.runtimes if s.runtime.startswith("LiteRT")), r.runtimes


def test_low_sparsity_is_not_worth_trying(tmp_path, features):
    r = convert(conformance.mlp(), tmp_path / "m.tflite", to="tflite", quantize="int8", calibration=features)
    assert not r.sparse_encoding and not any("sparse" in n for n in r.notes)

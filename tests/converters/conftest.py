"""Session fixtures for the converter tests.

Imports of TensorFlow, onnxruntime and LiteRT happen inside the fixtures, so the NumPy-only lane
(`-m "not host and not slow"`) still collects and runs this folder's pure tests.
"""
import pytest

from ..sdk import trained


def _host():
    pytest.importorskip("tensorflow", reason="needs the host extra (TensorFlow)")
    pytest.importorskip("onnxruntime", reason="needs the host extra (onnxruntime)")
    pytest.importorskip("ai_edge_litert", reason="needs the host extra (LiteRT)")


@pytest.fixture(scope="session")
def digits():
    _host()
    return trained.digits()


@pytest.fixture(scope="session")
def pruned():
    _host()
    return trained.pruned()


@pytest.fixture(scope="session")
def other_model():
    _host()
    return trained.other_model()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, pruned, digits):
    """{name: ConversionResult} for float/int8 TFLite and ONNX of the pruned model."""
    from edgewise.converters import keras_to_onnx, keras_to_tflite, quantize_onnx_int8

    out = tmp_path_factory.mktemp("artifacts")
    x = digits.calibration.x
    res = {
        "tflite": keras_to_tflite(pruned.model, out / "model.tflite", x),
        "int8.tflite": keras_to_tflite(pruned.model, out / "model.int8.tflite", x, precision="int8"),
        "onnx": keras_to_onnx(pruned.model, out / "model.onnx", x),
    }
    res["int8.onnx"] = quantize_onnx_int8(out / "model.onnx", out / "model.int8.onnx", x)
    return res

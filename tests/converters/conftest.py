"""Session fixtures for the converter tests: one pruned model, converted once to all four artifacts."""
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from ..sdk import trained  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return trained.digits()


@pytest.fixture(scope="session")
def pruned():
    return trained.pruned()


@pytest.fixture(scope="session")
def other_model():
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

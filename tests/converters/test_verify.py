"""Verification refuses wrong artifacts, and a failed step leaves the previous artifact in place."""
import os

import numpy as np
import pytest

from edgewise.converters import (
    ConversionError, VerifyConfig, keras_to_onnx, keras_to_tflite, quantize_onnx_int8, verify_artifact,
)

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def wrong_int8_tflite(tmp_path_factory, other_model, digits):
    """An int8 TFLite file of a different network (same shapes, other weights)."""
    path = tmp_path_factory.mktemp("wrong") / "other.int8.tflite"
    keras_to_tflite(other_model, path, digits.calibration.x, precision="int8")
    return path


def test_int8_file_from_another_model_is_refused(wrong_int8_tflite, pruned, digits):
    with pytest.raises(ConversionError) as e:
        verify_artifact(wrong_int8_tflite, pruned.model, digits.calibration.x, "int8")
    err = e.value
    assert err.artifact == str(wrong_int8_tflite) and str(wrong_int8_tflite) in str(err)
    assert err.tensor and err.tensor in str(err)
    assert err.measured is not None and f"{err.measured:.6g}" in str(err)


def test_the_right_file_passes(artifacts, pruned, digits):
    v = verify_artifact(artifacts["int8.tflite"].path, pruned.model, digits.calibration.x, "int8")
    assert v.passed


def test_float_onnx_of_another_model_is_refused(tmp_path, other_model, pruned, digits):
    path = tmp_path / "other.onnx"
    keras_to_onnx(other_model, path, digits.calibration.x)
    with pytest.raises(ConversionError, match=r"max abs error [0-9.e-]+ exceeds the tolerance"):
        verify_artifact(path, pruned.model, digits.calibration.x, "float32")


def test_int8_onnx_checked_against_another_source_is_refused(artifacts, tmp_path, other_model, digits):
    other = tmp_path / "other.onnx"
    keras_to_onnx(other_model, other, digits.calibration.x)
    with pytest.raises(ConversionError, match="does not match"):
        verify_artifact(artifacts["int8.onnx"].path, other, digits.calibration.x, "int8")


def _leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp") or ".tmp." in n)


def test_failed_tflite_step_keeps_previous_artifact(tmp_path, pruned, other_model, digits):
    path = tmp_path / "model.tflite"
    first = keras_to_tflite(pruned.model, path, digits.calibration.x)
    before = path.read_bytes()
    # Converting another model while demanding agreement no real conversion can reach fails in verification.
    with pytest.raises(ConversionError):
        keras_to_tflite(other_model, path, digits.calibration.x, verify=VerifyConfig(float_atol=-1.0))
    assert path.read_bytes() == before and first.size_bytes == len(before)
    assert _leftovers(tmp_path) == []


def test_failed_onnx_quantization_keeps_previous_artifact(tmp_path, artifacts, digits):
    target = tmp_path / "model.int8.onnx"
    target.write_bytes(open(artifacts["int8.onnx"].path, "rb").read())
    before = target.read_bytes()
    with pytest.raises(ConversionError) as e:
        quantize_onnx_int8(artifacts["onnx"].path, target, digits.calibration.x,
                           verify=VerifyConfig(int8_mean_scales=0.0))
    assert e.value.artifact == str(target)
    assert target.read_bytes() == before and _leftovers(tmp_path) == []


def test_bad_calibration_data(tmp_path, pruned):
    with pytest.raises(ValueError, match="calibration data must be a non-empty batch"):
        keras_to_tflite(pruned.model, tmp_path / "m.tflite", np.zeros((0, 8, 8, 1), np.float32))
    assert not (tmp_path / "m.tflite").exists()

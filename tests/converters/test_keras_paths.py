"""Keras and SavedModel -> TFLite at every precision, each file verified, described and explained."""
import os

import numpy as np
import pytest

from edgewise.converters import ConversionError, TFLiteOptions, VerifyConfig, convert
from edgewise.runtime.summary import inspect_model

from ..runtime.conformance import models as conformance
from . import models

pytestmark = pytest.mark.host
pytest.importorskip("tensorflow", reason="needs the host extra (TensorFlow)")
pytest.importorskip("ai_edge_litert", reason="needs the host extra (LiteRT)")


@pytest.fixture(scope="module")
def demo():
    return conformance.demo_cnn()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, (48, 8, 8, 1)).astype(np.float32)


@pytest.mark.parametrize("quantize", ["none", "dynamic", "float16", "int8", "int16x8"])
def test_demo_cnn_every_precision_is_verified(demo, images, tmp_path, quantize):
    r = convert(demo, tmp_path / f"demo.{quantize}.tflite", to="tflite", quantize=quantize, calibration=images)
    assert r.verification.passed and os.path.getsize(r.path) == r.size_bytes
    check = r.verification.outputs[0]
    assert check.top1_agreement == 1.0 and check.cosine > 0.999
    assert check.rule and check.measured <= check.tolerance
    weights = {w.dtype for w in inspect_model(r.path).weights}
    expected = {"none": {"float32"}, "dynamic": {"int8"}, "float16": {"float16"}, "int8": {"int8"},
                "int16x8": {"int8"}}[quantize]
    assert expected <= weights, weights
    assert r.inputs[0].shape == (None, 8, 8, 1)  # the batch dimension is stated dynamic
    assert any(s.runtime.startswith("LiteRT (builtin") and s.supported for s in r.runtimes)


def test_int8_input_and_output_types_are_honoured(demo, images, tmp_path):
    r = convert(demo, tmp_path / "u8.tflite", to="tflite", quantize="int8", calibration=images,
                tflite_options=TFLiteOptions(input_type="uint8", output_type="float32"))
    assert r.inputs[0].dtype == "uint8" and r.inputs[0].quantization is not None
    assert r.outputs[0].dtype == "float32"
    assert r.verification.passed


def test_per_tensor_weights_have_one_scale(demo, images, tmp_path):
    per_tensor = convert(demo, tmp_path / "pt.tflite", to="tflite", quantize="int8", calibration=images,
                         tflite_options=TFLiteOptions(per_channel=False))
    per_channel = convert(demo, tmp_path / "pc.tflite", to="tflite", quantize="int8", calibration=images)
    assert not any(w.per_channel for w in inspect_model(per_tensor.path).weights)
    assert any(w.per_channel for w in inspect_model(per_channel.path).weights)


def test_explain_names_the_layer_where_error_grows(demo, images, tmp_path):
    r = convert(demo, tmp_path / "x.tflite", to="tflite", quantize="int8", calibration=images, explain=True)
    report = r.layers
    assert report is not None and not report.unavailable
    ops = [e.op for e in report.layers]
    assert ops.count("CONV_2D") == 2 and ops.count("FULLY_CONNECTED") == 2
    worst = max(report.layers, key=lambda e: e.growth_db)
    assert report.worst_growth == worst.tensor and worst.growth_db > 0
    assert all(0 < e.snr_db <= 120 for e in report.layers)
    assert r.to_dict()["layers"]["worst_growth"] == worst.tensor


def test_a_file_that_fails_is_not_written_and_the_error_names_output_and_layer(demo, images, tmp_path):
    path = tmp_path / "strict.tflite"
    path.write_bytes(b"previous artifact")
    strict = VerifyConfig(int8_mean_scales=0.01)  # no int8 file is within a hundredth of a step
    with pytest.raises(ConversionError) as e:
        convert(demo, path, to="tflite", quantize="int8", calibration=images, verify=strict)
    assert e.value.tensor and e.value.tensor in str(e.value)
    assert "error grows most at" in str(e.value)
    assert path.read_bytes() == b"previous artifact"
    assert [p.name for p in tmp_path.iterdir()] == ["strict.tflite"]  # no temporary file left behind


def test_int8_without_calibration_is_a_clear_error(demo, tmp_path):
    with pytest.raises(ValueError, match="needs a calibration set"):
        convert(demo, tmp_path / "m.tflite", to="tflite", quantize="int8")


def test_mlp_int8(tmp_path):
    x = np.random.default_rng(1).uniform(-1, 1, (64, 20)).astype(np.float32)
    r = convert(conformance.mlp(), tmp_path / "mlp.tflite", to="tflite", quantize="int8", calibration=x)
    assert r.verification.outputs[0].top1_agreement >= 0.95


def test_two_inputs_two_outputs_matched_by_name(tmp_path):
    model = models.two_input_two_output()
    data = models.two_io_samples(40)
    for quantize in ("none", "int8"):
        r = convert(model, tmp_path / f"two.{quantize}.tflite", to="tflite", quantize=quantize, calibration=data)
        assert {lay.name for lay in r.layouts} == {"left", "right"}
        assert all(not lay.perm for lay in r.layouts)
        shapes = sorted(c.tensor for c in r.verification.outputs)
        assert len(shapes) == 2 and r.verification.passed


def test_saved_model_folder_int8(tmp_path):
    model = conformance.mlp()
    folder = tmp_path / "saved"
    model.export(str(folder), verbose=False)
    x = np.random.default_rng(2).uniform(-1, 1, (64, 20)).astype(np.float32)
    for quantize in ("none", "int8"):
        r = convert(str(folder), tmp_path / f"sm.{quantize}.tflite", to="tflite", quantize=quantize, calibration=x)
        assert r.verification.reference == str(folder) and r.verification.passed


def test_ds_cnn_int8(tmp_path):
    x = np.random.default_rng(3).uniform(-1, 1, (32, 49, 10, 1)).astype(np.float32)
    r = convert(conformance.ds_cnn(), tmp_path / "ds.tflite", to="tflite", quantize="int8", calibration=x)
    assert r.verification.passed


def test_transformer_float_and_dynamic(tmp_path):
    tokens = np.random.default_rng(4).integers(0, conformance.VOCAB, (32, conformance.SEQ)).astype(np.int32)
    for quantize in ("none", "dynamic"):
        r = convert(conformance.transformer(), tmp_path / f"tr.{quantize}.tflite", to="tflite", quantize=quantize,
                    calibration=tokens)
        assert r.inputs[0].dtype == "int32" and r.verification.passed


@pytest.mark.slow
def test_mobilenet_v2_int8_explained(tmp_path):
    x = np.random.default_rng(5).uniform(-1, 1, (32, 96, 96, 3)).astype(np.float32)
    r = convert(conformance.mobilenet_v2(), tmp_path / "mnv2.tflite", to="tflite", quantize="int8", calibration=x,
                explain=True)
    assert r.verification.passed and r.layers.worst_growth

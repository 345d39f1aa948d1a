"""Conversion results survive JSON, and the derived fields a reader expects are written."""
import json

from edgewise.converters.result import (
    ConversionResult, InputLayout, LayerError, LayerReport, OutputCheck, RuntimeSupport, Verification, VerifyConfig,
)
from edgewise.converters.sparsity import SparsitySummary, TensorSparsity
from edgewise.runtime.spec import Quantization, TensorSpec


def _result() -> ConversionResult:
    check = OutputCheck("Identity", 0.02, 0.004, "mean_abs_error", 0.0117, 0.0039, 1.0, 0.95, 30, 0.01, 0.9999,
                        "mean |error| <= 3 steps")
    return ConversionResult(
        "out/m.int8.tflite", "tflite", "int8", 9000,
        SparsitySummary((TensorSparsity("w", 5, 10), TensorSparsity("v", 0, 4))),
        Verification("model.onnx", 64, (check,)), 12.5, "model.onnx", "onnx2tf 1.28.8",
        (TensorSpec("x", (1, 8, 8, 3), "int8", Quantization((0.5,), (-3,))),), (TensorSpec("y", (None, 10), "int8"),),
        (InputLayout("x", "x", (None, 3, 8, 8), (1, 8, 8, 3), (0, 2, 3, 1), "NCHW -> NHWC"),), True,
        (RuntimeSupport("LiteRT default (XNNPACK delegate)", False, "RuntimeError: ..."),),
        LayerReport("float", 8, (LayerError(3, "CONV_2D", "conv", 0.4, 2.0, 31.5, 6.0),), "conv"), ("a note",))


def test_conversion_result_round_trips_through_json():
    r = _result()
    d = json.loads(json.dumps(r.to_dict()))
    assert ConversionResult.from_dict(d) == r


def test_derived_fields_are_written_for_readers():
    d = _result().to_dict()
    assert d["verification"]["passed"] is True
    assert d["verification"]["outputs"][0]["measured"] == 0.004
    assert d["sparsity"]["overall"] == 5 / 14 and d["sparsity"]["tensors"][0]["sparsity"] == 0.5


def test_verify_config_round_trips():
    c = VerifyConfig(float_rtol=1e-3, samples=32)
    assert VerifyConfig.from_dict(c.to_dict()) == c


def test_sparsity_records_are_the_ones_the_compression_package_exports():
    from edgewise.compress.sparsity import SparsitySummary as Reexported

    assert Reexported is SparsitySummary

"""ONNX -> int8 ONNX with onnxruntime's quantizer: both formats, three calibration methods, multi-input."""
import hashlib

import numpy as np
import pytest

from edgewise.converters import ConversionError, OnnxQuantOptions, VerifyConfig, convert
from edgewise.runtime.summary import inspect_model

from . import models

pytestmark = pytest.mark.host
pytest.importorskip("onnxruntime", reason="needs the host extra (onnxruntime)")
pytest.importorskip("sympy", reason="onnxruntime's quant_pre_process needs sympy (host extra)")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return models.two_input_onnx(tmp_path_factory.mktemp("onnx") / "two_io.onnx")


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    path = tmp_path_factory.mktemp("calib") / "calib.npz"
    np.savez(path, **models.two_input_onnx_samples(64))
    return str(path)


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("fmt", ["qdq", "qoperator"])
@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_formats_and_calibration_methods(source, calib, tmp_path, fmt, method):
    before = _sha(source)
    r = convert(str(source), tmp_path / "q.onnx", to="onnx", quantize="int8", calibration=calib,
                onnx_options=OnnxQuantOptions(fmt, method))
    assert _sha(source) == before  # the user's file is never touched
    assert r.verification.passed and {c.tensor for c in r.verification.outputs} == {"probs", "score"}
    ops = inspect_model(r.path).ops
    if fmt == "qdq":
        assert ops.get("QuantizeLinear") and ops.get("DequantizeLinear") and ops.get("Conv")
    else:
        assert ops.get("QLinearConv") and "Conv" not in ops
    assert fmt.upper() in r.converter and method in r.converter
    assert {lay.name for lay in r.layouts} == {"a", "b"} and all(not lay.perm for lay in r.layouts)
    assert r.inputs[0].shape[0] == "batch"  # the dynamic batch dimension is stated by name


def test_per_tensor_weights(source, calib, tmp_path):
    r = convert(str(source), tmp_path / "pt.onnx", to="onnx", quantize="int8", calibration=calib,
                onnx_options=OnnxQuantOptions(per_channel=False))
    assert "per-tensor" in r.converter and r.verification.passed


def test_qdq_layer_report_names_layers_of_the_source(source, calib, tmp_path):
    r = convert(str(source), tmp_path / "x.onnx", to="onnx", quantize="int8", calibration=calib, explain=True)
    tensors = {e.tensor for e in r.layers.layers}
    assert {"b1", "a1"} <= tensors or {"b2", "a3"} & tensors, tensors
    assert r.layers.worst_growth in tensors


def test_strict_tolerance_refuses_and_names_the_output(source, calib, tmp_path):
    out = tmp_path / "strict.onnx"
    with pytest.raises(ConversionError) as e:
        convert(str(source), out, to="onnx", quantize="int8", calibration=calib,
                verify=VerifyConfig(int8_mean_scales=0.001))
    assert e.value.tensor in ("probs", "score") and not out.exists()
    assert "error grows most at" in str(e.value)


def test_onnx_only_offers_int8(source, calib, tmp_path):
    with pytest.raises(ValueError, match="TFLite mode"):
        convert(str(source), tmp_path / "f.onnx", to="onnx", quantize="float16", calibration=calib)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["squeezenet", "shufflenet"])
def test_light_models_int8_qdq(tmp_path, name):
    from . import light_models

    src = light_models.randomized(name, tmp_path / f"{name}.onnx")
    x = light_models.images(16)
    r = convert(str(src), tmp_path / "q.onnx", to="onnx", quantize="int8", calibration=x)
    assert r.verification.passed and r.verification.outputs[0].cosine >= 0.9

"""The real converters on the pruned demo CNN: verification figures, sparsity in the files, results."""
import os

import numpy as np
import pytest

from edgewise.converters import ConversionResult, file_sparsity, read_weights

from ..sdk.trained import TARGET_SPARSITY

pytestmark = pytest.mark.host


def test_four_artifacts_written_and_verified(artifacts, digits):
    for name, r in artifacts.items():
        assert os.path.isfile(r.path) and os.path.getsize(r.path) == r.size_bytes
        assert r.verification.passed and r.verification.samples == len(digits.calibration)
        (check,) = r.verification.outputs
        assert check.top1_agreement is not None and check.top1_agreement >= 0.95, name
    for name in ("tflite", "onnx"):
        check = artifacts[name].verification.outputs[0]
        assert check.metric == "max_abs_error" and check.max_abs_error < 1e-4
    for name in ("int8.tflite", "int8.onnx"):
        check = artifacts[name].verification.outputs[0]
        assert check.metric == "mean_abs_error" and check.output_scale == pytest.approx(1 / 255, rel=0.01)
    assert artifacts["int8.tflite"].size_bytes < artifacts["tflite"].size_bytes / 3
    assert artifacts["int8.onnx"].size_bytes < artifacts["onnx"].size_bytes / 2


def test_int8_tflite_has_int8_io(artifacts):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=artifacts["int8.tflite"].path)
    assert it.get_input_details()[0]["dtype"] == np.int8
    assert it.get_output_details()[0]["dtype"] == np.int8


def test_int8_onnx_is_qdq_with_int8_weights(artifacts):
    import onnx

    model = onnx.load(artifacts["int8.onnx"].path)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = read_weights(artifacts["int8.onnx"].path)
    assert len(weights) == 4 and all(a.dtype == np.int8 for _, a in weights)


@pytest.mark.parametrize("name", ["tflite", "int8.tflite", "onnx", "int8.onnx"])
def test_sparsity_survives_into_the_file(artifacts, pruned, name):
    r = artifacts[name]
    measured = file_sparsity(r.path)
    assert measured == r.sparsity
    assert len(measured.tensors) == 4
    assert measured.overall == pytest.approx(TARGET_SPARSITY, abs=2e-3)
    # the same number of zeros as the Keras kernels, tensor by tensor (matched by size)
    keras_by_size = sorted((t.total, t.zeros) for t in pruned.sparsity.tensors)
    file_by_size = sorted((t.total, t.zeros) for t in measured.tensors)
    assert file_by_size == keras_by_size


def test_float_tflite_weights_equal_keras_kernels(artifacts, pruned):
    kernels = sorted((np.sort(w.ravel()) for w in pruned.model.get_weights() if w.ndim >= 2), key=len)
    stored = sorted((np.sort(a.ravel()) for _, a in read_weights(artifacts["tflite"].path)), key=len)
    assert len(kernels) == len(stored)
    for k, s in zip(kernels, stored):
        np.testing.assert_array_equal(k, s)


def test_result_round_trip(artifacts):
    for r in artifacts.values():
        again = ConversionResult.from_dict(r.to_dict())
        assert again == r

"""Accuracy through edgewise.runtime on every backend, with unsupported backends recorded, not hidden."""
import numpy as np
import pytest

from edgewise.data import Dataset
from edgewise.evaluate import accuracy_of, evaluate_artifact, evaluate_backend, keras_accuracy, predict

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def int8_tflite(tmp_path_factory, pruned, digits):
    from edgewise.converters import keras_to_tflite

    path = tmp_path_factory.mktemp("eval") / "m.int8.tflite"
    keras_to_tflite(pruned.model, path, digits.calibration.x, precision="int8")
    return path


def test_accuracy_of():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy_of(scores, np.array([1, 0, 0])) == pytest.approx(2 / 3)


def test_int8_tflite_on_every_backend_matches_litert_reference(int8_tflite, pruned, digits):
    from ai_edge_litert.interpreter import Interpreter

    result = evaluate_artifact(int8_tflite, digits.heldout)
    assert [r.backend for r in result.results] == ["litert", "numpy"]
    # independent reference: LiteRT called directly, sample by sample, quantizing by hand
    it = Interpreter(model_path=str(int8_tflite))
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    (s_in, z_in), correct = i["quantization"], 0
    for x, y in zip(digits.heldout.x, digits.heldout.y):
        it.set_tensor(i["index"], np.clip(np.round(x[None] / s_in) + z_in, -128, 127).astype(np.int8))
        it.invoke()
        correct += int(it.get_tensor(o["index"])[0].argmax() == y)
    litert = result.results[0]
    assert litert.status == "ok" and litert.samples == len(digits.heldout)
    assert litert.accuracy == pytest.approx(correct / len(digits.heldout))
    assert result.accuracy == litert.accuracy
    numpy_r = result.results[1]
    if numpy_r.status == "ok":  # the NumPy backend matches LiteRT's builtin int8 kernels
        assert abs(numpy_r.accuracy - litert.accuracy) <= 2 / len(digits.heldout)
    else:
        assert numpy_r.error


def test_batched_prediction_equals_one_by_one(int8_tflite, digits):
    from edgewise.runtime import load

    model = load(int8_tflite, backend="litert")
    batched = predict(model, digits.heldout.x[:37])
    single = np.concatenate([model.run(x[None], quantize=True)[0] for x in digits.heldout.x[:37]])
    np.testing.assert_array_equal(batched, single)


def test_unsupported_op_is_recorded_not_raised(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"], domain="test.edgewise")], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("test.edgewise", 1)])
    model.ir_version = 8
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    data = Dataset(np.zeros((3, 4), np.float32), np.zeros(3, np.int64))
    result = evaluate_artifact(path, data)
    by = {r.backend: r for r in result.results}
    assert by["numpy"].status == "unsupported" and "NoSuchOp" in by["numpy"].error and by["numpy"].accuracy is None
    assert by["onnxruntime"].status == "failed" and "NoSuchOp" in by["onnxruntime"].error
    assert result.accuracy is None and result.best is None


def test_backend_that_cannot_read_the_format(int8_tflite, digits):
    r = evaluate_backend(str(int8_tflite), "onnxruntime", digits.heldout)
    assert r.status == "unavailable" and "onnxruntime" in r.error


def test_keras_accuracy(trained_model, digits):
    acc = keras_accuracy(trained_model, digits.heldout)
    manual = float(np.mean(trained_model.predict(digits.heldout.x, verbose=0).argmax(1) == digits.heldout.y))
    assert acc == pytest.approx(manual) and acc > 0.95

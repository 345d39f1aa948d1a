"""The demo path end to end: a small Keras CNN exported by tf2onnx (`model.export(format="onnx")`)
and its QDQ int8 version from onnxruntime's quantize_static, run on the NumPy interpreter and on
onnxruntime.

float32: relative error <= 1e-5 against onnxruntime (default optimisation level).
QDQ: bit-identical to onnxruntime running the graph as written (ORT_DISABLE_ALL), which is what the
ONNX spec defines: every int8 tensor out of every QuantizeLinear, and the final output.
onnxruntime's default level is not an oracle for QDQ: it fuses Q/DQ around Conv/MatMul into integer
QLinear kernels with their own requantisation rounding; one-step differences then propagate (measured
here: up to 0.1 on softmax outputs, 27 output steps).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytest.importorskip("keras")

from edgewise.runtime.onnx import Interpreter, read_model  # noqa: E402

pytestmark = [pytest.mark.host, pytest.mark.slow]


@pytest.fixture(scope="module")
def cnn_files(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from keras import layers
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(4, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),
        layers.Conv2D(8, 3),
        layers.Flatten(),
        layers.Dense(16, activation="relu"),
        layers.Dense(10),
        layers.Softmax(),
    ])
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    calib = rng.random((8, 8, 8, 1), np.float32)
    model.predict(calib, verbose=0)
    out = tmp_path_factory.mktemp("cnn")
    fp32 = str(out / "cnn.onnx")
    model.export(fp32, format="onnx", verbose=False)
    name = onnx.load(fp32).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{name: calib[i : i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self._it, None)

    qdq = str(out / "cnn_qdq.onnx")
    quantize_static(fp32, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return fp32, qdq


def _interpreter(path):
    with open(path, "rb") as f:
        data = f.read()
    return Interpreter(read_model(data, path, os.path.dirname(path)), path)


def _session(model_or_path, level):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.log_severity_level = 3
    what = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(what, so, providers=["CPUExecutionProvider"])


def _inputs(batch=5):
    return np.random.default_rng(7).random((batch, 8, 8, 1), np.float32)


def test_float_cnn_matches_onnxruntime(cnn_files):
    fp32, _ = cnn_files
    it = _interpreter(fp32)
    assert it.resizable_batch and [s.dtype for s in it.inputs] == ["float32"]
    x = _inputs()
    ours = it.invoke([x])[0]
    ref = _session(fp32, ort.GraphOptimizationLevel.ORT_ENABLE_ALL).run(None, {it.inputs[0].name: x})[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)


def test_qdq_cnn_is_bit_identical_to_onnxruntime_unfused(cnn_files):
    _, qdq = cnn_files
    it = _interpreter(qdq)
    x = _inputs()
    env = it.invoke_all([x])
    model = onnx.load(qdq)
    quantized = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert len(quantized) >= 8
    model.graph.output.extend(onnx.helper.make_tensor_value_info(q, onnx.TensorProto.INT8, None) for q in quantized)
    ref = _session(model, ort.GraphOptimizationLevel.ORT_DISABLE_ALL).run(None, {it.inputs[0].name: x})
    np.testing.assert_array_equal(env[it.outputs[0].name], ref[0])
    for name, r in zip(quantized, ref[1:]):
        assert env[name].dtype == np.int8
        np.testing.assert_array_equal(env[name], r, err_msg=name)

"""The runtime API every backend shares: load(), Model.inputs/outputs/backend, Model.run()."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime import BackendUnavailableError, InputError, ModelFormatError, load

from .conformance.convert import ModelStore


@pytest.fixture(scope="module")
def store():
    return ModelStore()


@pytest.fixture(scope="module")
def int8_path(store):
    return str(store.path("demo_cnn", "tflite", "int8"))


@pytest.fixture(scope="module")
def sparse_int8_path(tmp_path_factory):
    """An MLP pruned to 90%, converted with EXPERIMENTAL_SPARSITY + full int8: LiteRT's default
    XNNPACK delegate refuses to prepare it, the builtin kernels run it."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
    for layer in m.layers:
        w, b = layer.get_weights()
        layer.set_weights([w * (np.abs(w) > np.quantile(np.abs(w), 0.9)), b])
    x = np.random.default_rng(0).random((16, 64), dtype=np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(16))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    path = tmp_path_factory.mktemp("sparse") / "sparse_int8.tflite"
    path.write_bytes(conv.convert())
    return str(path)


def test_auto_prefers_litert_and_says_why(int8_path):
    m = load(int8_path)
    assert m.backend.name == "litert"
    assert "ai_edge_litert" in m.backend.library
    assert "auto" in m.backend.reason
    assert m.format == "tflite"


def test_specs_carry_quantization_and_dynamic_batch(int8_path):
    for backend in ("litert", "numpy"):
        m = load(int8_path, backend=backend)
        (inp,), (out,) = m.inputs, m.outputs
        assert inp.dtype == "int8" and inp.is_quantized
        assert inp.shape == (None, 8, 8, 1)
        assert 0 < inp.scale < 1 and -128 <= inp.zero_point <= 127
        assert out.shape == (None, 10)


def test_float_input_to_int8_model_needs_quantize(int8_path):
    m = load(int8_path, backend="numpy")
    x = np.random.default_rng(0).random((1, 8, 8, 1), dtype=np.float32)
    with pytest.raises(InputError, match="quantize=True"):
        m.run(x)
    (y,) = m.run(x, quantize=True)
    assert y.dtype == np.float32 and y.shape == (1, 10)
    assert abs(float(y.sum()) - 1.0) < 0.02  # dequantized softmax


def test_quantize_matches_manual_quantization(int8_path):
    m = load(int8_path, backend="litert-builtin")
    spec = m.inputs[0]
    x = np.random.default_rng(1).random((1, 8, 8, 1), dtype=np.float32)
    q = np.clip(np.round(x / spec.scale) + spec.zero_point, -128, 127).astype(np.int8)
    (raw,) = m.run(q)
    (deq,) = m.run(x, quantize=True)
    out = m.outputs[0]
    np.testing.assert_array_equal(deq, (raw.astype(np.float32) - out.zero_point) * np.float32(out.scale))


def test_inputs_by_array_list_and_dict_agree(int8_path):
    m = load(int8_path, backend="numpy")
    x = np.random.default_rng(2).integers(-128, 128, (1, 8, 8, 1)).astype(np.int8)
    a = m.run(x)[0]
    b = m.run([x])[0]
    c = m.run({m.inputs[0].name: x})[0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    with pytest.raises(InputError, match="unknown input"):
        m.run({"nope": x})
    with pytest.raises(InputError, match="got 2 arrays"):
        m.run([x, x])


def test_shape_mismatch_names_the_tensor(int8_path):
    m = load(int8_path, backend="numpy")
    with pytest.raises(InputError) as e:
        m.run(np.zeros((1, 8, 7, 1), np.int8))
    assert m.inputs[0].name in str(e.value) and "(1, 8, 7, 1)" in str(e.value)
    with pytest.raises(InputError, match="rank"):
        m.run(np.zeros((8, 8, 1), np.int8))


@pytest.mark.parametrize("backend", ["litert", "numpy"])
def test_batch_larger_than_one(int8_path, backend):
    m = load(int8_path, backend=backend)
    x = np.random.default_rng(3).integers(-128, 128, (5, 8, 8, 1)).astype(np.int8)
    (y,) = m.run(x)
    assert y.shape == (5, 10)
    singles = np.concatenate([m.run(x[i:i + 1])[0] for i in range(5)])
    np.testing.assert_array_equal(y, singles)


def test_load_from_bytes(int8_path):
    with open(int8_path, "rb") as f:
        m = load(f.read(), backend="numpy")
    assert m.source == "<bytes>" and m.backend.name == "numpy"


def test_keep_intermediates_only_on_numpy(int8_path):
    x = np.zeros((1, 8, 8, 1), np.int8)
    with pytest.raises(BackendUnavailableError, match="backend='numpy'"):
        load(int8_path, backend="litert").run(x, keep_intermediates=True)
    tensors = load(int8_path, backend="numpy").run(x, keep_intermediates=True)
    assert len(tensors) > 5
    assert all(isinstance(v, np.ndarray) for v in tensors.values())


def test_onnx_auto_prefers_onnxruntime(store):
    path = str(store.path("demo_cnn", "onnx", "qdq"))
    m = load(path)
    assert m.format == "onnx" and m.backend.name == "onnxruntime"
    x = np.random.default_rng(4).random((2, 8, 8, 1), dtype=np.float32)
    ref = m.run(x)[0]
    got = load(path, backend="numpy").run(x)[0]
    assert got.shape == ref.shape == (2, 10)


def test_wrong_backend_for_format(int8_path):
    with pytest.raises(BackendUnavailableError):
        load(int8_path, backend="onnxruntime")
    with pytest.raises(ValueError, match="backend must be one of"):
        load(int8_path, backend="tensorflow")


def test_not_a_model(tmp_path):
    p = tmp_path / "notes.tflite"
    p.write_bytes(b"hello, this is not a model at all")
    with pytest.raises(ModelFormatError) as e:
        load(str(p))
    assert str(p) in str(e.value)
    with pytest.raises(ModelFormatError, match="cannot read"):
        load(str(tmp_path / "missing.onnx"))


def test_sparse_int8_falls_back_to_builtin_kernels(sparse_int8_path):
    m = load(sparse_int8_path)
    assert m.backend.name == "litert"
    assert m.backend.options == ("BUILTIN_WITHOUT_DEFAULT_DELEGATES",)
    assert "default delegate could not prepare" in m.backend.reason
    x = np.random.default_rng(5).integers(-128, 128, (1, 64)).astype(np.int8)
    ref = m.run(x)[0]
    np.testing.assert_array_equal(load(sparse_int8_path, backend="numpy").run(x)[0], ref)

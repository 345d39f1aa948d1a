"""`edgewise inspect` reads both formats with the runtime's own readers and counts zeros in the file."""
from __future__ import annotations

import numpy as np

from edgewise.runtime.summary import format_summary, inspect_model, weight_tensors

from .conformance.convert import ModelStore


def test_tflite_int8_summary():
    path = ModelStore().path("demo_cnn", "tflite", "int8")
    s = inspect_model(str(path))
    assert s.format == "tflite" and s.size_bytes == path.stat().st_size
    assert s.ops["CONV_2D"] == 2 and s.ops["FULLY_CONNECTED"] == 2
    assert s.inputs[0].dtype == "int8" and s.inputs[0].is_quantized
    assert s.quantization == "int8 (full integer)"
    assert all(w.dtype == "int8" and w.per_channel for w in s.weights)
    zeros = sum(int(np.count_nonzero(a == 0)) for _, a in weight_tensors(path))
    assert abs(s.weight_sparsity * s.weight_elements - zeros) < 1e-6
    text = format_summary(s)
    assert "CONV_2D x2" in text and "per-channel" in text


def test_onnx_qdq_summary_matches_float_layout():
    store = ModelStore()
    q = inspect_model(str(store.path("demo_cnn", "onnx", "qdq")))
    f = inspect_model(str(store.path("demo_cnn", "onnx", "float32")))
    assert q.format == f.format == "onnx"
    assert q.ops.get("QuantizeLinear", 0) > 0 and "QuantizeLinear" not in f.ops
    assert q.quantization == "int8 (QDQ)" and f.quantization.startswith("none")
    assert q.weight_elements == f.weight_elements  # the same kernels, stored as int8
    assert "opset" in q.producer


def test_pruned_weights_are_counted_in_the_file(tmp_path):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64), keras.layers.Dense(4)])
    w, b = m.layers[0].get_weights()
    w[:, ::2] = 0.0  # half of the first kernel's columns
    m.layers[0].set_weights([w, b])
    path = tmp_path / "half.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(m).convert())
    s = inspect_model(str(path))
    by_shape = {w.shape: w for w in s.weights}
    assert by_shape[(64, 32)].sparsity >= 0.5  # TFLite stores the kernel transposed: (units, inputs)
    assert by_shape[(4, 64)].sparsity < 0.05

"""Bundles of real converted models run exactly like the files they hold, on every backend.

Oracles: the plain .tflite/.onnx on the same backend (identical outputs, since the decoded model
is the same file bit for bit), LiteRT and onnxruntime.
"""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.bundle import pack
from edgewise.runtime import load
from edgewise.runtime.bundle import decode_model

from ...runtime.conformance.models import CONFORMANCE_MODELS

pytestmark = pytest.mark.host

CASES = [("mlp", "tflite", "int8"), ("mlp", "tflite", "dynamic"), ("demo_cnn", "tflite", "int8"),
         ("demo_cnn", "tflite", "float32"), ("mlp", "onnx", "float32"), ("demo_cnn", "onnx", "qdq")]
ENGINE = {"tflite": "litert-builtin", "onnx": "onnxruntime"}


@pytest.mark.parametrize("name, fmt, variant", CASES, ids=["-".join(c) for c in CASES])
def test_bundle_runs_like_the_plain_file(model_store, tmp_path, name, fmt, variant):
    plain = model_store.path(name, fmt, variant)
    bundle = tmp_path / f"{name}.ewb"
    result = pack(plain, bundle)
    assert decode_model(bundle) == plain.read_bytes()
    assert result.download_bytes == bundle.stat().st_size < plain.stat().st_size
    for backend in ("numpy", ENGINE[fmt]):
        a, b = load(str(bundle), backend=backend), load(str(plain), backend=backend)
        assert a.format == fmt and [s.to_dict() for s in a.inputs] == [s.to_dict() for s in b.inputs]
        x = CONFORMANCE_MODELS[name].input.sample(np.random.default_rng(0))
        for got, want in zip(a.run(x, quantize=True), b.run(x, quantize=True)):
            np.testing.assert_array_equal(got, want)


def _pruned_clustered_int8(tmp_path, clusters=16, sparsity=0.9):
    """A Dense model whose kernels are magnitude-pruned and k-means-clustered with NumPy, then int8."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(200, activation="relu"), keras.layers.Dense(10)])
    for layer in m.layers:
        w, b = layer.get_weights()
        cut = np.quantile(np.abs(w), sparsity)
        w[np.abs(w) < cut] = 0.0
        nz = w[w != 0]
        centers = np.quantile(nz, np.linspace(0, 1, clusters))
        for _ in range(10):  # Lloyd's k-means in one dimension
            idx = np.abs(nz[:, None] - centers[None]).argmin(1)
            centers = np.array([nz[idx == k].mean() if np.any(idx == k) else centers[k] for k in range(clusters)])
        w[w != 0] = centers[np.abs(nz[:, None] - centers[None]).argmin(1)]
        layer.set_weights([w, b])
    rng = np.random.default_rng(1)
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.normal(size=(1, 64)).astype(np.float32)] for _ in range(20))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    path = tmp_path / "pc.tflite"
    path.write_bytes(conv.convert())
    return path


@pytest.mark.slow
def test_pruned_clustered_int8_bundle_codes_to_its_entropy(tmp_path):
    path = _pruned_clustered_int8(tmp_path)
    r = pack(path, tmp_path / "pc.ewb")
    big = max(r.tensors, key=lambda t: t.nbytes)
    assert big.layout in ("mask", "gaps"), big
    assert big.coded_bytes < 0.15 * big.nbytes  # 90% zeros and 16 values: ~0.9 bit per weight
    assert big.coded_bytes <= 1.10 * big.entropy_bytes  # tables and lane states cost under 10%
    assert r.weights_bytes <= 1.25 * r.entropy_floor_bytes  # with the biases' small, table-heavy streams
    assert r.download_bytes < 0.4 * r.disk_bytes
    x = np.random.default_rng(2).integers(-128, 128, (1, 64)).astype(np.int8)
    for backend in ("numpy", "litert-builtin"):
        np.testing.assert_array_equal(load(str(tmp_path / "pc.ewb"), backend=backend).run(x)[0],
                                      load(str(path), backend=backend).run(x)[0])


def test_cli_pack_inspect_unpack(model_store, tmp_path, capsys):
    import json

    from edgewise.cli import main

    plain = model_store.path("mlp", "tflite", "int8")
    bundle = tmp_path / "m.ewb"
    assert main(["pack", str(plain), "--out", str(bundle)]) == 0
    assert "download" in capsys.readouterr().out
    assert main(["inspect", str(bundle), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    b = info["bundle"]
    assert info["format"] == "tflite" and b["download_bytes"] == bundle.stat().st_size
    assert b["disk_bytes"] == plain.stat().st_size and b["ram_bytes"] > 0
    assert [m["name"] for m in b["members"]] == ["graph", "weights"] and b["tensors"][0]["codings"]
    assert main(["inspect", str(bundle)]) == 0
    text = capsys.readouterr().out
    assert "download" in text and "RAM" in text and "coded tensors" in text
    assert main(["unpack", str(bundle), "--out", str(tmp_path / "u")]) == 0
    assert (tmp_path / "u" / plain.name).read_bytes() == plain.read_bytes()
    bundle.write_bytes(bundle.read_bytes()[:-10])
    assert main(["inspect", str(bundle)]) == 1
    assert "m.ewb" in capsys.readouterr().err


def test_ram_size_counts_a_sparse_stored_model_dense(tmp_path):
    """A pruned model converted with EXPERIMENTAL_SPARSITY stores its kernels sparse; the runtimes
    densify them on load, so the RAM size is the dense constants', not the file's bytes."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
    rng = np.random.default_rng(3)
    for layer in m.layers:
        kernel, bias = (w.numpy() for w in layer.weights)
        kernel[rng.random(kernel.shape) < 0.9] = 0  # 90% zeros: the converter stores these sparse
        layer.set_weights([kernel, rng.uniform(-0.1, 0.1, bias.shape).astype(np.float32)])
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    plain = tmp_path / "pruned.tflite"
    plain.write_bytes(conv.convert())
    dense = 4 * (64 * 128 + 128 + 128 * 10 + 10)  # float32 kernels and biases
    result = pack(plain, tmp_path / "pruned.ewb")
    assert plain.stat().st_size < dense <= result.ram_bytes  # the file holds less than the runtime will
    x = rng.standard_normal((2, 64)).astype(np.float32)
    np.testing.assert_allclose(load(str(tmp_path / "pruned.ewb"), backend="numpy").run(x)[0], m.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    from edgewise.runtime.summary import inspect_model

    assert inspect_model(str(tmp_path / "pruned.ewb")).bundle.ram_bytes == result.ram_bytes

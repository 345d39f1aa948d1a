"""Pruned models on the NumPy backend: sparse matmul plans in FULLY_CONNECTED and CONV_2D give LiteRT's
builtin results (int8 bit for bit, float32 to 1e-5), and block-pruned dense layers run sparse.

Keras models are pruned by magnitude (90-95 %, unstructured or in 16x1 / 4x4 blocks of the TFLite
(out, in) weight matrix), converted by the real TFLiteConverter to float32 and full int8, with and
without Optimize.EXPERIMENTAL_SPARSITY (which stores the weights sparse and may add DENSIFY ops).
"""
from __future__ import annotations

import os
from typing import Dict, Tuple

import numpy as np
import pytest

from edgewise.runtime.tflite import read_model

from .conftest import litert_run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPARSE_KINDS = ("csr", "nm", "block")
# pattern -> (sparsity, block (out, in) or None); blocks follow the TFLite weights (out, in).
PATTERNS = {"unstructured": (0.95, None), "block16x1": (0.9, (16, 1)), "block4x4": (0.9, (4, 4))}


def _prune_kernel(kernel: np.ndarray, sparsity: float, block) -> np.ndarray:
    """Zero the smallest-magnitude weights (or blocks, by L1 norm). Keras kernels are (..., in, out):
    a Dense kernel (in, out) is the transpose of TFLite's (out, in)."""
    k = kernel.reshape(-1, kernel.shape[-1]).T  # (out, in) view of the kernel as TFLite stores it
    if block is None:
        keep = np.abs(k) >= np.quantile(np.abs(k), sparsity)
    else:
        bh, bw = block
        norms = np.abs(k).reshape(k.shape[0] // bh, bh, k.shape[1] // bw, bw).sum(axis=(1, 3))
        keep_blocks = norms >= np.quantile(norms, sparsity)
        keep = np.repeat(np.repeat(keep_blocks, bh, axis=0), bw, axis=1)
    return (k * keep).T.reshape(kernel.shape).astype(np.float32)


def _build(kind: str, pattern: str):
    import keras

    keras.utils.set_random_seed(11)
    L = keras.layers
    if kind == "mlp":
        shape = (256,)
        m = keras.Sequential([keras.Input(shape), L.Dense(1024, activation="relu"),
                              L.Dense(1024, activation="relu"), L.Dense(16)])
    else:
        shape = (8, 8, 32)
        m = keras.Sequential([keras.Input(shape), L.Conv2D(64, 3, padding="same", activation="relu"),
                              L.Conv2D(128, 1, activation="relu6"), L.Conv2D(64, 3, strides=2),
                              L.GlobalAveragePooling2D(), L.Dense(16)])
    sparsity, block = PATTERNS[pattern]
    rng = np.random.default_rng(5)
    for layer in m.layers:
        if layer.weights:
            kernel, bias = (w.numpy() for w in layer.weights)
            layer.set_weights([_prune_kernel(kernel, sparsity, block),
                               rng.uniform(-0.2, 0.2, bias.shape).astype(np.float32)])
    return m, shape


class Pruned:
    """Each (model, pattern, variant, sparsity-encoded) converted once per session."""

    def __init__(self):
        self._cache: Dict[Tuple, Tuple[bytes, tuple]] = {}

    def get(self, kind: str, pattern: str, variant: str, encode_sparse: bool):
        key = (kind, pattern, variant, encode_sparse)
        if key not in self._cache:
            import tensorflow as tf

            m, shape = _build(kind, pattern)
            conv = tf.lite.TFLiteConverter.from_keras_model(m)
            opts = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY] if encode_sparse else []
            if variant == "int8":
                rng = np.random.default_rng(7)
                samples = [rng.standard_normal((1,) + shape).astype(np.float32) for _ in range(16)]
                opts.append(tf.lite.Optimize.DEFAULT)
                conv.representative_dataset = lambda: ([s] for s in samples)
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                conv.inference_input_type = tf.int8
                conv.inference_output_type = tf.int8
            conv.optimizations = opts
            self._cache[key] = (conv.convert(), shape)
        return self._cache[key]


@pytest.fixture(scope="session")
def pruned():
    pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")
    return Pruned()


def _interpreter(data: bytes, sparse=None):
    from edgewise.runtime.tflite import Interpreter

    return Interpreter(read_model(data, "pruned.tflite"), "pruned.tflite", sparse=sparse)


def _feeds(shape, variant: str, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    if variant == "int8":
        return [rng.integers(-128, 128, (batch,) + shape, dtype=np.int8)]
    return [rng.standard_normal((batch,) + shape).astype(np.float32)]


def _assert_matches(ours, ref, variant):
    if variant == "int8":
        np.testing.assert_array_equal(ours, ref)
    else:
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


CASES = [(kind, pattern, variant, enc)
         for kind in ("mlp", "cnn") for pattern in PATTERNS for variant in ("float32", "int8")
         for enc in (False, True)
         if not (kind == "cnn" and enc and pattern != "block16x1")]  # keep the conversions few


@pytest.mark.parametrize("kind,pattern,variant,encode_sparse", CASES)
def test_pruned_model_matches_litert_builtin(pruned, kind, pattern, variant, encode_sparse):
    data, shape = pruned.get(kind, pattern, variant, encode_sparse)
    it = _interpreter(data)
    for batch, seed in ((1, 0), (3, 1)):
        feeds = _feeds(shape, variant, batch, seed)
        (ours,) = it.invoke(feeds)
        (ref,), _ = litert_run(data, feeds)
        _assert_matches(ours, ref, variant)
    planned = {p.node for p in it.plans}
    assert planned, "the pruned layers' weights have zeros, so each gets a plan"
    assert all(p.op in ("FULLY_CONNECTED", "CONV_2D") and 0.0 < p.info.density < 0.2 for p in it.plans)


@pytest.fixture
def cost_model_only(monkeypatch):
    """Plans chosen by runtime/sparse/plan.py's cost model, no timing: the same on every run."""
    monkeypatch.setenv("EDGEWISE_SPARSE_TIMING", "0")


@pytest.mark.parametrize("variant", ["float32", "int8"])
@pytest.mark.parametrize("pattern", ["block16x1", "block4x4"])
def test_block_pruned_dense_layers_run_sparse(pruned, pattern, variant, cost_model_only):
    """The 1024x1024 layer pruned to 90 % in blocks: the cost model (fitted to the timings in
    runtime/sparse/plan.py: 2-3x faster than the dense GEMM at batch 1) picks the block layout."""
    data, _ = pruned.get("mlp", pattern, variant, False)
    plans = [p for p in _interpreter(data).plans if p.info.shape == (1024, 1024)]
    assert len(plans) == 1
    for p in plans:
        assert p.info.kind == "block" and not p.info.measured, p
        assert p.info.structure.startswith("block"), p
        assert p.to_dict()["info"]["kind"] == p.info.kind


def test_sparse_off_is_dense_and_identical(pruned, monkeypatch, cost_model_only):
    data, shape = pruned.get("mlp", "block16x1", "int8", False)
    feeds = _feeds(shape, "int8", 2, 3)
    monkeypatch.setenv("EDGEWISE_SPARSE", "0")
    dense = _interpreter(data)
    assert dense.plans == []
    monkeypatch.delenv("EDGEWISE_SPARSE")
    sparse = _interpreter(data)
    assert any(p.info.kind == "block" for p in sparse.plans)
    assert _interpreter(data, sparse=False).plans == []
    np.testing.assert_array_equal(dense.invoke(feeds)[0], sparse.invoke(feeds)[0])

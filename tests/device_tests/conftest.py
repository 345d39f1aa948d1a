"""Fixtures of the device tests: a real sshd, a real .tflite model, the recorded device outputs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    """A two-layer Keras MLP (random weights) converted by TFLiteConverter.from_keras_model."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
    path = tmp_path_factory.mktemp("models") / "tiny_mlp.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def fixture_text(name: str) -> str:
    """A recorded device output, byte for byte (NULs and missing final newlines kept)."""
    return (FIXTURES / name).read_bytes().decode("utf-8")

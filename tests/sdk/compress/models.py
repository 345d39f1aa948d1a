"""Small digits models trained once per session for the technique tests (seconds on two cores)."""
from __future__ import annotations

import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@functools.lru_cache(maxsize=None)
def digits():
    from edgewise.data import load_digits_splits

    return load_digits_splits(0)


def build_cnn(seed: int = 0):
    """conv1 8x3x3 -> conv2 16x3x3 -> pool -> flatten -> fc 32 -> out 10 (conv2 has 72 inputs: N:M-able)."""
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        L.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        L.MaxPooling2D(name="pool"), L.Flatten(name="flat"),
        L.Dense(32, activation="relu", name="fc"),
        L.Dense(10, activation="softmax", name="out"),
    ], name="cnn")


def build_mlp(seed: int = 0):
    """64 -> 128 -> 64 -> 10, a small LeNet-300-100."""
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1)), L.Flatten(name="flat"),
        L.Dense(128, activation="relu", name="fc1"),
        L.Dense(64, activation="relu", name="fc2"),
        L.Dense(10, activation="softmax", name="out"),
    ], name="mlp")


@functools.lru_cache(maxsize=None)
def trained(kind: str):
    from edgewise.compress.train import FineTuneConfig, fine_tune

    model = build_cnn() if kind == "cnn" else build_mlp()
    return fine_tune(model, digits().train, FineTuneConfig(epochs=10, learning_rate=3e-3), seed=0).model


def accuracy(model) -> float:
    from edgewise.evaluate import keras_accuracy

    return keras_accuracy(model, digits().heldout)


def export(model, path, precision: str = "int8") -> str:
    """Convert with the project's converter (verified against the Keras model) and return the path."""
    from edgewise.converters.tflite import keras_to_tflite

    keras_to_tflite(model, path, digits().calibration.x, precision=precision)
    return str(path)

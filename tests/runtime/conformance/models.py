"""Keras builders of the conformance models, with seeded random weights.

Each builder returns a compiled-free `keras.Model`; `CONFORMANCE_MODELS` pairs it with the input
it expects (`InputSpec`) so tests, calibration and benchmarks draw inputs from one place. The set
covers what edge users actually ship: a tiny CNN (the demo), an MLP, MobileNetV2 (Sandler et al.,
2018, arXiv:1801.04381), MobileNetV3-Small (Howard et al., 2019, arXiv:1905.02244), the DS-CNN
keyword spotter of "Hello Edge" (Zhang et al., 2017, arXiv:1711.07128) and a one-block transformer
encoder (Vaswani et al., 2017) over integer token ids.

BatchNorm moving statistics are randomised too: with the initial mean 0 / variance 1 the folded
batch norm is a no-op and a runtime that ignored it would still pass.

This module imports Keras lazily (inside the builders) so that a run with every converted model in
the cache never imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np

from edgewise.runtime.records import Record

SEED = 20241122


@dataclass(frozen=True)
class InputSpec(Record):
    """What a model takes: shape without batch, dtype, and the range test data is drawn from."""

    shape: Tuple[int, ...]
    dtype: str = "float32"
    low: float = -1.0
    high: float = 1.0  # exclusive upper bound for integer inputs

    def sample(self, rng: np.random.Generator, batch: int = 1) -> np.ndarray:
        shape = (batch,) + self.shape
        if np.dtype(self.dtype).kind in "iu":
            return rng.integers(int(self.low), int(self.high), size=shape).astype(self.dtype)
        return rng.uniform(self.low, self.high, size=shape).astype(self.dtype)


@dataclass(frozen=True)
class ConformanceModel:
    name: str
    build: Callable[[], object]  # -> keras.Model
    input: InputSpec


def _randomize_batchnorm(model, rng: np.random.Generator) -> None:
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype(gamma.dtype),
                rng.uniform(-0.2, 0.2, beta.shape).astype(beta.dtype),
                rng.uniform(-0.2, 0.2, mean.shape).astype(mean.dtype),
                rng.uniform(0.5, 2.0, var.shape).astype(var.dtype),
            ])


def _seeded(fn):
    def build():
        import keras

        keras.utils.set_random_seed(SEED)
        model = fn()
        _randomize_batchnorm(model, np.random.default_rng(SEED))
        return model

    build.__name__ = fn.__name__
    build.__doc__ = fn.__doc__
    return build


@_seeded
def demo_cnn():
    """The README demo: 8x8 grey images, two convolutions, two dense layers, softmax."""
    import keras
    from keras import layers

    x = inp = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="valid")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dense(10)(x)
    x = layers.Softmax()(x)
    return keras.Model(inp, x, name="demo_cnn")


@_seeded
def mlp():
    """A tabular MLP: three fully connected layers with tanh and relu."""
    import keras
    from keras import layers

    x = inp = keras.Input((20,), name="features")
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dense(32, activation="tanh")(x)
    x = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inp, x, name="mlp")


@_seeded
def mobilenet_v2():
    """MobileNetV2, width 0.35, 96x96 RGB in [-1, 1] (the model's own preprocessing range).

    The head returns logits: with random weights a 1000-way softmax is ~0.001 everywhere, which int8
    (scale 1/256) rounds to -128 for every class, and an all -128 output cannot catch a wrong kernel.
    """
    import keras

    return keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classifier_activation=None)


@_seeded
def mobilenet_v3_small():
    """MobileNetV3-Small at 96x96 with its built-in Rescaling (so it takes pixels in [0, 255]); logits out."""
    import keras

    return keras.applications.MobileNetV3Small(input_shape=(96, 96, 3), weights=None, classifier_activation=None)


@_seeded
def ds_cnn():
    """DS-CNN-S keyword spotting (Hello Edge): 49 frames x 10 MFCCs, 4 depthwise-separable blocks, 12 classes."""
    import keras
    from keras import layers

    x = inp = keras.Input((49, 10, 1), name="mfcc")
    x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(64, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.AveragePooling2D(pool_size=(25, 5))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12)(x)
    return keras.Model(inp, x, name="ds_cnn")


VOCAB, SEQ, DIM = 64, 16, 32


def _position_embedding_layer():
    import keras

    class PositionEmbedding(keras.layers.Layer):
        """Learned absolute positions (BERT-style), added to the token embeddings."""

        def build(self, input_shape):
            self.pos = self.add_weight(
                shape=(input_shape[1], input_shape[2]), initializer="random_normal", name="pos"
            )

        def call(self, x):
            return x + self.pos

    return PositionEmbedding()


@_seeded
def transformer():
    """One post-norm encoder block over int32 token ids: attention, LayerNorm, GELU MLP, mean pool.

    GELU is the tanh approximation (Hendrycks & Gimpel, 2016, eq. in sec. 2; GPT-2/BERT's form): the
    exact erf form lowers to `Erfc`, which tf2onnx 1.17 cannot export.
    """
    import keras
    from keras import layers

    inp = keras.Input((SEQ,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, DIM)(inp)
    x = _position_embedding_layer()(x)
    att = layers.MultiHeadAttention(num_heads=2, key_dim=DIM // 2)(x, x)
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, att]))
    ff = layers.Dense(2 * DIM)(x)
    ff = layers.Activation(lambda t: keras.activations.gelu(t, approximate=True), name="gelu")(ff)
    ff = layers.Dense(DIM)(ff)
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, ff]))
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(4)(x)
    return keras.Model(inp, x, name="transformer")


CONFORMANCE_MODELS: Dict[str, ConformanceModel] = {
    m.name: m
    for m in (
        ConformanceModel("demo_cnn", demo_cnn, InputSpec((8, 8, 1), low=0.0, high=1.0)),
        ConformanceModel("mlp", mlp, InputSpec((20,), low=-2.0, high=2.0)),
        ConformanceModel("mobilenet_v2", mobilenet_v2, InputSpec((96, 96, 3))),
        ConformanceModel("mobilenet_v3_small", mobilenet_v3_small, InputSpec((96, 96, 3), low=0.0, high=255.0)),
        ConformanceModel("ds_cnn", ds_cnn, InputSpec((49, 10, 1), low=-30.0, high=30.0)),
        ConformanceModel("transformer", transformer, InputSpec((SEQ,), dtype="int32", low=0, high=VOCAB)),
    )
}

"""Tiny Keras models per op family, converted with the real TFLiteConverter, and the LiteRT oracle.

Every model is built and converted once per session (float32; full int8 with a representative
dataset and int8 input/output; "dynamic": int8 weights, float activations). LiteRT runs with BUILTIN_WITHOUT_DEFAULT_DELEGATES: its builtin
kernels are the reference the NumPy interpreter must match, bit for bit for int8.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Tuple

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CALIBRATION = 24


def _keras():
    pytest.importorskip("tensorflow")
    import keras

    return keras


# name -> (input shape without batch, builder(keras, layers) -> keras.Model)
MODELS: Dict[str, Tuple[Tuple[int, ...], Callable]] = {}


def model(name: str, shape: Tuple[int, ...]):
    def deco(fn):
        MODELS[name] = (shape, fn)
        return fn

    return deco


@model("demo", (8, 8, 1))
def _demo(keras, L):
    return keras.Sequential([
        keras.Input((8, 8, 1)), L.Conv2D(8, 3, activation="relu", padding="same"), L.MaxPooling2D(),
        L.Conv2D(16, 3, activation="relu"), L.Flatten(), L.Dense(32, activation="relu"), L.Dense(10), L.Softmax(),
    ])


@model("pools", (12, 12, 4))
def _pools(keras, L):
    """Max pools whose windows tile the input (2x2, 3x3 SAME on 6x6, 2x3) and one that does not."""
    x = keras.Input((12, 12, 4))
    a = L.MaxPooling2D(2)(L.Conv2D(4, 1)(x))
    a = L.MaxPooling2D(3, padding="same")(L.Activation("relu6")(a))
    b = L.MaxPooling2D((2, 3))(x)
    c = L.MaxPooling2D(5)(x)  # 12 = 2 * 5 + 2: VALID drops a remainder
    return keras.Model(x, [L.Flatten()(a), L.Flatten()(b), L.Flatten()(c)])


@model("padded", (12, 12, 3))
def _padded(keras, L):
    """MobileNet's ZeroPadding2D(correct_pad) before stride-2 convolutions (fused into SAME), and
    ResNet's ZeroPadding2D(3) before a 7x7 stride-2 one (left a PAD)."""
    x = keras.Input((12, 12, 3))
    a = L.Conv2D(8, 3, strides=2, padding="valid", activation="relu")(L.ZeroPadding2D(((0, 1), (0, 1)))(x))
    a = L.DepthwiseConv2D(3, strides=2, padding="valid")(L.ZeroPadding2D(((0, 1), (0, 1)))(a))
    b = L.Conv2D(4, 7, strides=2, padding="valid")(L.ZeroPadding2D(3)(x))
    return keras.Model(x, [L.Flatten()(a), L.Flatten()(b)])


@model("mixed", (9, 9, 3))
def _mixed(keras, L):
    x = keras.Input((9, 9, 3))
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6", depth_multiplier=2)(x)
    y = L.Conv2D(4, 3, strides=2, padding="same")(y)
    y = L.AveragePooling2D(2, padding="same")(y)
    z = L.Activation("sigmoid")(y)
    y = L.Add()([y, z])
    y = L.Multiply()([y, z])
    y = L.Subtract()([y, z])
    y = L.Activation("hard_swish")(y)
    y = L.Concatenate()([y, z])
    y = L.ZeroPadding2D(1)(y)
    y = L.MaxPooling2D(3, strides=2, padding="same")(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(6, activation="relu6")(y)
    return keras.Model(x, y)


@model("activations", (6, 6, 4))
def _activations(keras, L):
    x = keras.Input((6, 6, 4))
    a = L.Conv2D(4, 1)(x)
    t = L.Activation("tanh")(a)
    lr = L.LeakyReLU(negative_slope=0.2)(a)
    g = L.Activation("gelu")(a)
    mx = L.Maximum()([t, lr])
    mn = L.Minimum()([lr, g])
    e = L.Activation("elu")(a)
    sw = L.Activation("swish")(e)
    ex = L.Lambda(lambda v: keras.ops.exp(v * 0.5))(sw)
    y = L.Concatenate()([mx, mn, g, ex])
    y = L.Conv2D(8, 3, padding="same", groups=4, activation="relu6")(y)  # grouped: 16 -> 8 channels
    y = L.Conv2D(3, 3, dilation_rate=2, padding="same", activation="relu")(y)
    y = L.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5), shared_axes=[1, 2])(y)
    return keras.Model(x, y)


@model("shapes", (4, 6))
def _shapes(keras, L):
    x = keras.Input((4, 6))
    y = L.Dense(6)(x)
    t = L.Permute((2, 1))(y)
    t = L.Dense(4)(t)
    t = L.Permute((2, 1))(t)
    y = L.Add()([y, t])
    y = L.Reshape((4, 6, 1))(y)
    y = L.UpSampling2D(2, interpolation="bilinear")(y)
    y = L.UpSampling2D(2, interpolation="nearest")(y)
    y = L.Conv2DTranspose(2, 3, strides=2, padding="same")(y)
    y = L.GlobalMaxPooling2D()(y)
    return keras.Model(x, y)


@model("mobilenet_block", (12, 12, 3))
def _mobilenet_block(keras, L):
    x = keras.Input((12, 12, 3))
    y = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU(6.0)(y)
    for stride, ch in ((1, 16), (2, 24), (1, 24)):
        y = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = L.Conv2D(ch, 1, use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
    y = L.GlobalAveragePooling2D(keepdims=True)(y)
    y = L.Flatten()(y)
    y = L.Dropout(0.1)(y)
    y = L.Dense(10, activation="softmax")(y)
    return keras.Model(x, y)


@model("transformer_block", (6, 16))
def _transformer_block(keras, L):
    x = keras.Input((6, 16))
    h = L.LayerNormalization()(x)
    h = L.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
    x2 = L.Add()([x, h])
    h = L.LayerNormalization()(x2)
    h = L.Dense(32, activation="gelu")(h)
    h = L.Dense(16)(h)
    y = L.Add()([x2, h])
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model(x, y)


@model("hybrid", (8, 8, 16))
def _hybrid(keras, L):
    """Weights of at least 1024 values, so that dynamic-range quantization makes them int8."""
    x = keras.Input((8, 8, 16))
    y = L.Conv2D(64, 3, padding="same", activation="relu")(x)
    y = L.DepthwiseConv2D(5, padding="same", activation="relu6")(y)
    y = L.Conv2D(48, 1, strides=2)(y)
    y = L.Reshape((16, 48))(y)
    y = L.Dense(40, activation="relu")(y)
    y = L.Flatten()(y)
    y = L.Dense(24)(y)
    return keras.Model(x, y)


@model("tensor_ops", (6, 8))
def _tensor_ops(keras, L):
    """Slicing, splitting, gathering and float elementwise ops, through keras.ops."""
    ops = keras.ops
    x = keras.Input((6, 8))
    a, b = L.Lambda(lambda t: ops.split(t, 2, axis=-1))(x)
    d = L.Lambda(lambda t: t[0] * (ops.abs(t[1]) + 1.0))([a, b])
    q = L.Lambda(lambda t: ops.rsqrt(ops.square(t[0] - t[1]) + 0.5))([a, b])
    g = L.Lambda(lambda t: ops.take(t, [5, 0, 2], axis=1))(x)
    rows = L.Lambda(lambda t: ops.unstack(t, axis=1))(x)
    r = L.Lambda(lambda t: ops.stack([t[0] - t[3], ops.maximum(t[1], t[2]), ops.minimum(t[4], t[5])], axis=1))(rows)
    s = L.Lambda(lambda t: ops.expand_dims(ops.squeeze(t[:, 1:4, 2:6][:, :1], axis=1), -1))(x)
    y = L.Concatenate(axis=1)([d, q])
    y = L.Lambda(lambda t: ops.transpose(t, (0, 2, 1)))(y)
    out = L.Concatenate()([L.Flatten()(y), L.Flatten()(g), L.Flatten()(r), L.Flatten()(s)])
    return keras.Model(x, out)


@model("broadcast", (5, 7, 3))
def _broadcast(keras, L):
    """int8 ADD/MUL whose broadcast shapes fold into runs that are not multiples of LiteRT's vector
    width, so both the vector loops and the scalar tails produce output."""
    ops = keras.ops
    x = keras.Input((5, 7, 3))
    per_row = L.Lambda(lambda t: ops.mean(t, axis=(2, 3), keepdims=True))(x)
    per_col = L.Lambda(lambda t: ops.mean(t, axis=1, keepdims=True))(x)
    a = L.Lambda(lambda t: t[0] + t[1])([x, per_row])
    b = L.Lambda(lambda t: t[1] * t[0])([x, per_col])
    c = L.Lambda(lambda t: t[0] - t[1] * 0.5)([x, per_col])
    y = L.Add()([a, b])
    y = L.Multiply()([y, c])
    y = L.Lambda(lambda t: t * 0.75 + 0.25)(y)
    return keras.Model(x, y)


@model("division", (4, 5))
def _division(keras, L):
    x = keras.Input((4, 5))
    y = L.Lambda(lambda t: t / (keras.ops.abs(t) + 1.0))(x)
    return keras.Model(x, L.Dense(3)(y))


@model("misc_ops", (4, 6))
def _misc_ops(keras, L):
    """Comparisons, selection, tiling, reductions and float math, through keras.ops."""
    ops = keras.ops

    def body(t):
        pos = ops.greater(t, 0.1)
        y = ops.where(pos, ops.sqrt(ops.abs(t)), ops.sin(t) + ops.cos(t))
        y = y + ops.cast(ops.less(t, ops.mean(t, axis=-1, keepdims=True)), "float32") * 0.1
        y = y + ops.max(t, axis=1, keepdims=True) - ops.min(t, axis=2, keepdims=True)
        y = y + ops.sum(t, axis=-1, keepdims=True) * 0.1 + ops.floor(t) * 0.5 + ops.log(ops.abs(t) + 1.0)
        y = ops.concatenate([y, ops.tile(t[:, :1], (1, 2, 1)), ops.log_softmax(t[:, :1], axis=-1)], axis=1)
        y = y + ops.power(ops.abs(t[:, :1]) + 0.5, 1.5)
        return ops.pad(ops.negative(y) * t[:, :1], ((0, 0), (1, 1), (0, 2)), mode="reflect")

    x = keras.Input((4, 6))
    return keras.Model(x, L.Lambda(body)(x))


class Converted:
    """Builds and converts each model once; `get(name, kind)` returns the .tflite bytes."""

    def __init__(self):
        self._cache: Dict[Tuple[str, str], bytes] = {}

    def get(self, name: str, kind: str) -> bytes:
        key = (name, kind)
        if key not in self._cache:
            self._cache[key] = self._convert(name, kind)
        return self._cache[key]

    def _convert(self, name: str, kind: str) -> bytes:
        keras = _keras()
        import tensorflow as tf

        shape, build = MODELS[name]
        keras.utils.set_random_seed(sum(map(ord, name)))
        m = build(keras, keras.layers)
        self._randomize_biases(m)
        conv = tf.lite.TFLiteConverter.from_keras_model(m)
        if kind == "int8":
            rng = np.random.default_rng(7)
            samples = [rng.standard_normal((1,) + shape).astype(np.float32) for _ in range(CALIBRATION)]
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([s] for s in samples)
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        elif kind == "dynamic":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        elif kind != "float32":
            raise ValueError(kind)
        return conv.convert()

    @staticmethod
    def _randomize_biases(m):
        """Keras initializes biases to zero, and the converter then drops them; random biases keep the
        bias path of every kernel under test."""
        rng = np.random.default_rng(3)
        for layer in m.layers:
            for w in layer.weights:
                if w.path.endswith("bias") or w.path.endswith("beta"):
                    w.assign(rng.uniform(-0.3, 0.3, w.shape).astype(np.float32))
                elif w.path.endswith("moving_variance") or w.path.endswith("gamma"):
                    w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
                elif w.path.endswith("moving_mean"):
                    w.assign(rng.uniform(-0.2, 0.2, w.shape).astype(np.float32))


@pytest.fixture(scope="session")
def converted() -> Converted:
    return Converted()


def litert_run(data: bytes, feeds, keep_all: bool = False):
    """LiteRT with its builtin kernels only; returns (outputs, {tensor index: value} when keep_all)."""
    mod = pytest.importorskip("ai_edge_litert.interpreter")
    it = mod.Interpreter(
        model_content=data,
        experimental_op_resolver_type=mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=keep_all,
    )
    details = it.get_input_details()
    for d, x in zip(details, feeds):
        if tuple(d["shape"]) != x.shape:
            it.resize_tensor_input(d["index"], list(x.shape))
    it.allocate_tensors()
    for d, x in zip(details, feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    outs = [it.get_tensor(d["index"]) for d in it.get_output_details()]
    every = {}
    if keep_all:
        for d in it.get_tensor_details():
            try:
                every[d["index"]] = it.get_tensor(d["index"])
            except ValueError:  # tensors without data (e.g. optional ones) cannot be read
                continue
    return outs, every


def random_feeds(specs, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    feeds = []
    for s in specs:
        shape = (batch,) + tuple(d for d in s.shape[1:])
        if s.dtype == "int8":
            feeds.append(rng.integers(-128, 128, shape, dtype=np.int8))
        else:
            feeds.append((rng.standard_normal(shape) * 1.5).astype(s.dtype))
    return feeds

"""The demo CNN trained and pruned once per test session, shared by tests/sdk and tests/converters.

Training is the expensive part of these tests (seconds on two cores), so it happens once, behind
an lru_cache, and every fixture that needs a model reads the same one.
"""
from __future__ import annotations

import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TARGET_SPARSITY = 0.8


@functools.lru_cache(maxsize=None)
def digits():
    from edgewise.data import load_digits_splits

    return load_digits_splits(0)


@functools.lru_cache(maxsize=None)
def trained_model():
    """The demo CNN after the demo's training (seeded)."""
    from edgewise.demo import train_model

    return train_model(digits())


@functools.lru_cache(maxsize=None)
def pruned():
    """PruneResult of the trained model at TARGET_SPARSITY (two epochs of fine-tuning, to save time)."""
    from edgewise.compress import PruneConfig, prune

    s = digits()
    return prune(trained_model(), s.train.x, s.train.y, PruneConfig(TARGET_SPARSITY, epochs=2))


@functools.lru_cache(maxsize=None)
def other_model():
    """A different network of the same shape: the demo CNN with other random weights, never trained."""
    from edgewise.demo import build_model

    m = build_model(seed=1234)
    m(digits().calibration.x[:1])
    return m


@functools.lru_cache(maxsize=None)
def flat_digits():
    """The digits splits with each 8x8 image flattened to 64 features (for the MLP)."""
    from edgewise.data import Dataset, DigitsSplits

    s = digits()
    flat = lambda d: Dataset(d.x.reshape(len(d.x), -1), d.y, d.source)  # noqa: E731
    return DigitsSplits(flat(s.train), flat(s.calibration), flat(s.heldout))


@functools.lru_cache(maxsize=None)
def tiny_mlp():
    """A 64 -> 32 -> 10 MLP trained for a few seconds (~94% held-out): the recipe and search tests' model."""
    import keras

    s = flat_digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,), name="pixels"),
                              keras.layers.Dense(32, activation="relu", name="hidden"),
                              keras.layers.Dense(10, activation="softmax", name="classes")], name="tiny_mlp")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(s.train.x, s.train.y, batch_size=32, epochs=8, verbose=0)
    return model

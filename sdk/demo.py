"""`run_demo()`: the whole pipeline on scikit-learn's bundled digits, in about a minute on two cores.

A small CNN (two 3x3 convolutions, max-pool, two dense layers; ~38k parameters) is trained on
8x8 digits, then `DEMO_RECIPE` runs: pruned to 80% sparsity with fine-tuning (under the
accuracy guard), quantized to int8 TFLite and ONNX; the float files are written too, each file
verified against its source, scored on held-out digits with every backend, and benchmarked on
this machine through the device harness. The int8 TFLite file is then packed as `model.ewb`, the
deployable artifact, scored by loading the bundle itself (NumPy backend) and shown with its three
sizes (download, disk once unpacked, weights in RAM).
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

from ._extras import require
from .data import DigitsSplits, load_digits_splits
from .progress import Progress

DEMO_SPARSITY = 0.8
SEED = 0
EPOCHS = 12
DEMO_RECIPE = {
    "name": "demo",
    "steps": [
        {"kind": "prune", "magnitude": {"target_sparsity": DEMO_SPARSITY}, "fine_tune": {"epochs": 3}},
        {"kind": "quantize", "mode": "int8", "formats": ["tflite", "onnx"]},
    ],
}


def build_model(seed: int = SEED):
    """The demo CNN, with seeded initial weights."""
    keras = require("keras", "the demo")
    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        L.MaxPooling2D(name="pool"),
        L.Flatten(name="flatten"),
        L.Dense(64, activation="relu", name="dense"),
        L.Dense(10, activation="softmax", name="classes"),
    ], name="digits_cnn")


def train_model(splits: DigitsSplits, epochs: int = EPOCHS, seed: int = SEED):
    """Train the demo CNN on the training split (seeded: the same weights on every run on one machine)."""
    keras = require("keras", "the demo")
    model = build_model(seed)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(splits.train.x, splits.train.y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    return model


def run_demo(out_dir: "str | os.PathLike" = "out", progress: Optional[Progress] = None,
             benchmark: bool = True):
    """Train, prune, quantize, convert, verify, evaluate and benchmark; write out_dir/report.{json,html}."""
    from .pipeline import Settings, optimize, write_report
    from .report.schema import Timing

    say = progress or (lambda _m: None)
    say("load the digits (scikit-learn, bundled)")
    splits = load_digits_splits(SEED)
    say(f"train the demo CNN ({len(splits.train)} images, {EPOCHS} epochs)")
    t0 = time.perf_counter()
    model = train_model(splits)
    train_step = Timing("train the demo CNN", time.perf_counter() - t0, None,
                        f"{EPOCHS} epochs on {len(splits.train)} images")
    report = optimize(model, splits.calibration, splits.heldout, DEMO_RECIPE, train=splits.train, out_dir=out_dir,
                      settings=Settings(benchmark=benchmark, seed=SEED), progress=say)
    report = dataclasses.replace(report, timings=(train_step,) + report.timings)
    write_report(report, os.fspath(out_dir))
    return report

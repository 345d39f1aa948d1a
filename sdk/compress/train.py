"""One fine-tuning loop for every compression technique, with constraints as plug-ins.

Pruning keeps masks, clustering keeps weights on shared centroids, k-bit keeps them on a grid,
factorization keeps the new shapes: all are "train a little, then project the weights back onto
the constraint set" (projected gradient descent). So one loop trains, and each technique plugs
in a `Constraint` with three hooks, as tfmot's wrapper / callback / strip triple does per
technique, here without wrapping layers (Keras 3 rejects tfmot's Keras-2 wrappers):

* `on_begin(model, total_steps)` - once, before the first batch (compute masks, centroids);
* `after_batch(model, step)`     - after every optimizer step (re-apply the projection);
* `strip(model) -> model`        - at the end, return a plain Keras model with the constraint exact.

Distillation changes the loss, not the weights: with `teacher` and a `DistillConfig` the loss is
Hinton et al.'s soft-target mix (see `distill.loss`), so any technique can fine-tune against
the model it started from.

Ctrl-C raises KeyboardInterrupt out of `fine_tune` untouched; the caller's model is never
modified (training runs on a copy), so an interrupted step leaves nothing half-done.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime.records import Record

from ..data import Dataset
from ..progress import Progress, quiet

OPTIMIZERS = ("adam", "sgd", "rmsprop")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "mse")


@dataclass(frozen=True)
class FineTuneConfig(Record):
    """How to fine-tune: epochs, batch size, optimizer and its learning rate, loss.

    `validation_fraction` > 0 holds out the last part of the (shuffled once, seeded) training set
    and reports its accuracy per epoch; `from_logits` says the model outputs logits, not
    probabilities (both the loss and distillation read it).
    """

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = False
    validation_fraction: float = 0.0

    def __post_init__(self):
        if self.epochs < 0:
            raise ValueError(f"FineTuneConfig.epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"FineTuneConfig.batch_size must be >= 1, got {self.batch_size}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"FineTuneConfig.learning_rate must be a positive number, got {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"FineTuneConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"FineTuneConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"FineTuneConfig.validation_fraction must be in [0, 1), got {self.validation_fraction}")


@dataclass(frozen=True)
class TrainingHistory(Record):
    """Per-epoch figures of one fine-tuning run (empty tuples when nothing was measured)."""

    epochs: int = 0
    steps: int = 0
    loss: Tuple[float, ...] = ()
    accuracy: Tuple[float, ...] = ()
    val_accuracy: Tuple[float, ...] = ()


@dataclass(frozen=True)
class FineTuneResult:
    """The fine-tuned, stripped model (a plain Keras model) and its training history."""

    model: object = field(repr=False)
    history: TrainingHistory


class Constraint:
    """A plug-in of the fine-tuning loop; the default hooks do nothing (subclass what you need)."""

    name = "constraint"

    def on_begin(self, model, total_steps: int) -> None:
        """Called once on the working copy before the first batch."""

    def after_batch(self, model, step: int) -> None:
        """Called after every optimizer step `step` (0-based)."""

    def strip(self, model):
        """Make the constraint exact one last time and return a plain Keras model."""
        return model


def plain_copy(model):
    """A new, uncompiled model with the same architecture and weights (no optimizer state to save).

    `keras.models.clone_model` re-compiles the clone when the source was compiled, and saving it
    then stores Adam's two moments per weight, tripling the file.
    """
    plain = type(model).from_config(model.get_config())
    plain.set_weights(model.get_weights())
    return plain


def _optimizer(keras, config: FineTuneConfig):
    kinds = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return kinds[config.optimizer](config.learning_rate)


def _loss(keras, config: FineTuneConfig):
    if config.loss == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=config.from_logits)
    if config.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=config.from_logits)
    return keras.losses.MeanSquaredError()


def fine_tune(model, train: Dataset, config: FineTuneConfig, constraints: Sequence[Constraint] = (),
              teacher=None, distill=None, progress: Progress = quiet,
              seed: Optional[int] = None) -> FineTuneResult:
    """Fine-tune a copy of `model` on `train` under `constraints`; `model` itself is untouched.

    With `teacher` and `distill` (a `distill.DistillConfig`) the loss is the distillation loss
    against the teacher's outputs on the same batch (computed once up front: the teacher is
    frozen and the data is not augmented). With `epochs=0` the constraints are still applied
    (on_begin then strip), which is how one-shot compression without fine-tuning is expressed.
    Returns the stripped model (constraints exact) and the per-epoch history.
    """
    from .._extras import require

    keras = require("keras", "fine-tuning")
    if (teacher is None) != (distill is None):
        raise ValueError("fine_tune: distillation needs both `teacher` and `distill` (a DistillConfig)")
    y = train.labels()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    work = plain_copy(model)
    x = np.asarray(train.x, np.float32)
    val = None
    if config.validation_fraction > 0:
        order = np.random.default_rng(0 if seed is None else seed).permutation(len(x))
        n_val = max(1, int(round(config.validation_fraction * len(x))))
        x, y, val = x[order[n_val:]], y[order[n_val:]], (x[order[:n_val]], y[order[:n_val]])
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    total = steps_per_epoch * config.epochs
    for c in constraints:
        c.on_begin(work, total)
    if config.epochs == 0:
        return FineTuneResult(_strip_all(work, constraints), TrainingHistory())
    if distill is not None:
        from .distill.loss import distillation_loss, pack_targets

        loss = distillation_loss(distill, from_logits=config.from_logits)
        target = pack_targets(y, teacher.predict(x, batch_size=256, verbose=0), config.from_logits)
        metrics = [_packed_accuracy(keras)]
        val_target = None if val is None else pack_targets(
            val[1], teacher.predict(val[0], batch_size=256, verbose=0), config.from_logits)
    else:
        loss, target, val_target = _loss(keras, config), y, None if val is None else val[1]
        metrics = ["accuracy"] if "categorical" in config.loss else []
    work.compile(optimizer=_optimizer(keras, config), loss=loss, metrics=metrics)
    callbacks = [_constraint_callback(keras, work, constraints)]
    callbacks.append(keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: progress(_epoch_line(e, config.epochs, logs or {}))))
    hist = work.fit(x, target, batch_size=config.batch_size, epochs=config.epochs, shuffle=True, verbose=0,
                    callbacks=callbacks, validation_data=None if val is None else (val[0], val_target))
    h = hist.history
    acc_key = next((k for k in h if k.endswith("accuracy") and not k.startswith("val_")), None)
    val_key = next((k for k in h if k.startswith("val_") and k.endswith("accuracy")), None)
    history = TrainingHistory(config.epochs, total, tuple(float(v) for v in h.get("loss", ())),
                              tuple(float(v) for v in h.get(acc_key, ())) if acc_key else (),
                              tuple(float(v) for v in h.get(val_key, ())) if val_key else ())
    return FineTuneResult(_strip_all(work, constraints), history)


def _strip_all(work, constraints: Sequence[Constraint]):
    model = plain_copy(work)
    for c in constraints:
        model = c.strip(model)
    return model


def _epoch_line(epoch: int, epochs: int, logs: dict) -> str:
    figures = ", ".join(f"{k} {float(v):.4f}" for k, v in sorted(logs.items()))
    return f"epoch {epoch + 1}/{epochs}: {figures}"


def _packed_accuracy(keras):
    """Accuracy on the hard labels packed into column 0 of the distillation targets."""
    from keras import ops

    def accuracy(packed, pred):
        labels = ops.cast(packed[:, 0], "int32")
        return ops.mean(ops.cast(ops.equal(ops.cast(ops.argmax(pred, axis=-1), "int32"), labels), "float32"))

    return accuracy


def _constraint_callback(keras, model, constraints: Sequence[Constraint]):
    class ApplyConstraints(keras.callbacks.Callback):
        """After every optimizer step, project the weights back onto every constraint."""

        def __init__(self):
            super().__init__()
            self.step = 0

        def on_train_batch_end(self, batch, logs=None):
            for c in constraints:
                c.after_batch(model, self.step)
            self.step += 1

    return ApplyConstraints()

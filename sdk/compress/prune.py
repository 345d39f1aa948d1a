"""Magnitude pruning with fine-tuning, native to Keras 3.

tensorflow-model-optimization wraps layers in Keras-2 classes that Keras 3 rejects, so edgewise
prunes the model's own variables instead: a callback, after every training batch, asks the
schedule whether to recompute the masks (zeroing the smallest-magnitude fraction of each
prunable tensor, Han et al. 2015, "Learning both Weights and Connections") and then multiplies
every prunable variable by its mask. The optimizer may move a pruned weight during a batch;
the mask puts it back to exactly 0.0 before the next forward pass and at the end of training,
so `strip()` returns an ordinary Keras model whose zeros are exact and survive conversion.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np

from .prunable import PRUNABLE_WEIGHTS
from .schedule import PolynomialDecay, Schedule, schedule_from_dict
from .sparsity import SparsitySummary, keras_sparsity


@dataclass(frozen=True)
class PruneConfig:
    """How to prune and fine-tune.

    With no explicit `schedule`, sparsity follows Zhu & Gupta's polynomial decay from 0 at the
    first step to `target_sparsity` at `ramp_fraction` of the fine-tuning steps, then holds while
    the rest of the steps recover accuracy.
    """

    target_sparsity: float
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    ramp_fraction: float = 0.6
    frequency: int = 5
    power: float = 3.0
    loss: str = "sparse_categorical_crossentropy"
    seed: int = 0
    schedule: Optional[Schedule] = None

    def __post_init__(self):
        if not 0.0 <= self.target_sparsity < 1.0:
            raise ValueError(f"target_sparsity must be in [0, 1), got {self.target_sparsity}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not 0.0 < self.ramp_fraction <= 1.0:
            raise ValueError(f"ramp_fraction must be in (0, 1], got {self.ramp_fraction}")

    def schedule_for(self, total_steps: int) -> Schedule:
        """The explicit schedule, or polynomial decay ramping over the first `ramp_fraction` of `total_steps`."""
        if self.schedule is not None:
            return self.schedule
        end = max(1, int(round(self.ramp_fraction * total_steps)) - 1)
        return PolynomialDecay(self.target_sparsity, begin_step=0, end_step=end, power=self.power,
                               frequency=self.frequency)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("target_sparsity", "epochs", "batch_size", "learning_rate",
                                           "ramp_fraction", "frequency", "power", "loss", "seed")}
        d["schedule"] = self.schedule.to_dict() if self.schedule is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PruneConfig":
        d = dict(d)
        sched = d.pop("schedule", None)
        return cls(**d, schedule=schedule_from_dict(sched) if sched else None)


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """A 0/1 mask zeroing exactly round(sparsity * size) of the smallest |w| (ties broken by position)."""
    flat = np.abs(np.asarray(weights, np.float64)).ravel()
    k = int(round(sparsity * flat.size))
    mask = np.ones(flat.size, np.float32)
    if k > 0:
        mask[np.argsort(flat, kind="stable")[:k]] = 0.0
    return mask.reshape(np.shape(weights))


class MagnitudePruner:
    """Holds one mask per prunable variable and the step counter the schedule reads."""

    def __init__(self, model, schedule: Schedule):
        from .prunable import prunable_weights

        self.schedule = schedule
        self.weights = prunable_weights(model)
        if not self.weights:
            raise ValueError(f"model {model.name!r} has no prunable layers (see edgewise.compress.PRUNABLE_WEIGHTS)")
        self.masks: List[np.ndarray] = [np.ones(tuple(v.shape), np.float32) for _, _, v in self.weights]
        self.step = 0
        self.current_sparsity = 0.0

    def on_batch_end(self) -> None:
        should, target = self.schedule(self.step)
        if should:
            self.masks = [magnitude_mask(v.numpy(), target) for _, _, v in self.weights]
            self.current_sparsity = target
        self.apply()
        self.step += 1

    def apply(self) -> None:
        for (_, _, var), mask in zip(self.weights, self.masks):
            var.assign(var.numpy() * mask)


def _callback(pruner: MagnitudePruner):
    from .._extras import require

    keras = require("keras", "pruning")

    class ApplyMasks(keras.callbacks.Callback):
        """Re-apply the masks after every batch so pruned weights never drift from 0.0."""

        def on_train_batch_end(self, batch, logs=None):
            pruner.on_batch_end()

        def on_train_end(self, logs=None):
            pruner.apply()

    return ApplyMasks()


@dataclass(frozen=True)
class PruneResult:
    """The stripped model and what pruning did to it."""

    model: object = field(repr=False)
    config: PruneConfig
    sparsity: SparsitySummary
    steps: int
    history: Tuple[Tuple[str, Tuple[float, ...]], ...] = ()


def prune(model, x: np.ndarray, y: np.ndarray, config: PruneConfig,
          on_epoch: Optional[Callable[[int, dict], None]] = None) -> PruneResult:
    """Prune a copy of `model` to `config.target_sparsity` while fine-tuning on (x, y); `model` is untouched."""
    from .._extras import require

    from .prunable import prunable_weights

    keras = require("keras", "pruning")
    if not prunable_weights(model):
        kinds = sorted({type(layer).__name__ for layer in model.layers})
        raise ValueError(f"model {model.name!r} has no prunable layers (it has {kinds}; prunable are "
                         f"{sorted(PRUNABLE_WEIGHTS)})")
    keras.utils.set_random_seed(config.seed)
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    work.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=config.loss, metrics=["accuracy"])
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    total = steps_per_epoch * config.epochs
    pruner = MagnitudePruner(work, config.schedule_for(total))
    callbacks = [_callback(pruner)]
    if on_epoch is not None:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: on_epoch(e, dict(logs or {}))))
    hist = work.fit(x, y, batch_size=config.batch_size, epochs=config.epochs, shuffle=True, verbose=0,
                    callbacks=callbacks)
    final = strip(work, pruner.masks)
    history = tuple((k, tuple(float(v) for v in vals)) for k, vals in hist.history.items())
    return PruneResult(final, config, keras_sparsity(final), pruner.step, history)


def strip(model, masks: Optional[List[np.ndarray]] = None):
    """A plain, uncompiled Keras model with the pruned weights set to exactly 0.0.

    No wrapper layers remain, so the converters see an ordinary model; `masks` (one per prunable
    weight, in `prunable_weights` order) are applied once more so no optimizer update survives.
    """
    from .prunable import prunable_weights

    plain = plain_copy(model)
    if masks is not None:
        weights = prunable_weights(plain)
        if len(weights) != len(masks):
            raise ValueError(f"strip: {len(masks)} masks for {len(weights)} prunable weights of {model.name!r}")
        for (layer, attr, var), mask in zip(weights, masks):
            if tuple(var.shape) != mask.shape:
                raise ValueError(f"strip: mask for {layer}/{attr} has shape {mask.shape}, "
                                 f"weight has {tuple(var.shape)}")
            var.assign(var.numpy() * mask)
    return plain


def plain_copy(model):
    """A new, uncompiled model with the same architecture and weights (no optimizer state to save).

    `keras.models.clone_model` re-compiles the clone when the source was compiled, and saving it
    then stores Adam's two moments per weight, tripling the file.
    """
    plain = type(model).from_config(model.get_config())
    plain.set_weights(model.get_weights())
    return plain

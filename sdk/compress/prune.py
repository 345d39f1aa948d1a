"""Magnitude pruning with fine-tuning in one call: the original entry point, on the shared loop.

`prune(model, x, y, PruneConfig(0.8))` is `fine_tune(model, Dataset(x, y), config.fine_tune(),
[MagnitudePruning(config.magnitude())])`: the schedule and layer choice live in
`pruning.magnitude.MagnitudeConfig`, the training in `train.FineTuneConfig`. `PruneConfig` keeps
the flat fields existing callers and reports use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from edgewise.runtime.records import Record

from ..data import Dataset
from .prunable import prunable_weights
from .pruning.magnitude import MagnitudeConfig, MagnitudePruning, magnitude_mask
from .schedule import ConstantSparsity, PolynomialDecay, Schedule
from .sparsity import SparsitySummary, keras_sparsity
from .train import FineTuneConfig, TrainingHistory, fine_tune, plain_copy

__all__ = ["PruneConfig", "PruneResult", "prune", "strip", "magnitude_mask", "plain_copy", "MagnitudePruner"]


@dataclass(frozen=True)
class PruneConfig(Record):
    """How to prune and fine-tune (see `magnitude()` and `fine_tune()` for the two halves).

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
    schedule: Optional[Union[ConstantSparsity, PolynomialDecay]] = None
    layer_targets: Dict[str, float] = field(default_factory=dict)
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"PruneConfig.epochs must be >= 1, got {self.epochs}")
        try:
            self.magnitude()
            self.fine_tune()
        except ValueError as e:
            raise ValueError(str(e).replace("MagnitudeConfig.", "PruneConfig.").replace(
                "FineTuneConfig.", "PruneConfig.")) from None

    def magnitude(self) -> MagnitudeConfig:
        return MagnitudeConfig(self.target_sparsity, dict(self.layer_targets), self.include, self.exclude,
                               self.ramp_fraction, self.frequency, self.power, self.schedule)

    def fine_tune(self) -> FineTuneConfig:
        return FineTuneConfig(self.epochs, self.batch_size, self.learning_rate, loss=self.loss)

    def schedule_for(self, total_steps: int) -> Schedule:
        return self.magnitude().schedule_for(total_steps)


@dataclass(frozen=True)
class PruneResult:
    """The stripped model and what pruning did to it."""

    model: object = field(repr=False)
    config: PruneConfig
    sparsity: SparsitySummary
    steps: int
    history: TrainingHistory = TrainingHistory()


def prune(model, x: np.ndarray, y: np.ndarray, config: PruneConfig,
          on_epoch: Optional[Callable[[str], None]] = None) -> PruneResult:
    """Prune a copy of `model` to `config.target_sparsity` while fine-tuning on (x, y); `model` is untouched."""
    pruning = MagnitudePruning(config.magnitude())
    result = fine_tune(model, Dataset(x, y), config.fine_tune(), [pruning], seed=config.seed,
                       progress=on_epoch or (lambda _m: None))
    return PruneResult(result.model, config, keras_sparsity(result.model), result.history.steps, result.history)


def strip(model, masks: Optional[List[np.ndarray]] = None):
    """A plain, uncompiled Keras model with the pruned weights set to exactly 0.0.

    `masks` (one per prunable weight, in `prunable_weights` order) are applied once more so no
    optimizer update survives.
    """
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


class MagnitudePruner:
    """Masks for every prunable weight under one schedule, stepped by hand (for custom loops and tests)."""

    def __init__(self, model, schedule: Schedule):
        self.constraint = MagnitudePruning(MagnitudeConfig(schedule.target_sparsity, schedule=schedule), schedule)
        self.constraint.on_begin(model, total_steps=1)
        self.model = model
        self.weights = prunable_weights(model)

    @property
    def masks(self) -> List[np.ndarray]:
        return [self.constraint.masks[(layer, attr)] for layer, attr, _ in self.weights]

    @property
    def step(self) -> int:
        return self.constraint.step

    def on_batch_end(self) -> None:
        self.constraint.after_batch(self.model, self.constraint.step)

"""Magnitude pruning during fine-tuning (Han et al. 2015, "Learning both Weights and Connections").

After every batch the `MagnitudePruning` constraint asks the schedule whether to recompute the
masks (zeroing the smallest-|w| fraction of each selected tensor) and multiplies every selected
weight by its mask: the optimizer may move a pruned weight during a batch, the mask puts it back
to exactly 0.0 before the next forward pass and at the end, so the stripped model's zeros are
exact and survive conversion. Per-layer targets scale the schedule: a layer with target s_l is at
s_l * s(t) / s_f while the global schedule is at s(t) on its way to s_f.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from edgewise.runtime.records import Record

from ..prunable import PRUNABLE_WEIGHTS, prunable_weights
from ..schedule import ConstantSparsity, PolynomialDecay, Schedule
from ..select import check_rules, override, selected
from ..train import Constraint


def _check_sparsity(value: float, field_name: str) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{field_name} must be in [0, 1), got {value}")


@dataclass(frozen=True)
class MagnitudeConfig(Record):
    """What to prune and how fast.

    `target_sparsity` applies to every selected layer unless `layer_targets` (glob -> sparsity,
    later rule wins) says otherwise. With no explicit `schedule`, sparsity follows Zhu & Gupta's
    polynomial decay from 0 at the first step to the target at `ramp_fraction` of the
    fine-tuning steps, updating masks every `frequency` steps, then holds while the rest recover.
    """

    target_sparsity: float
    layer_targets: Dict[str, float] = field(default_factory=dict)
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    ramp_fraction: float = 0.6
    frequency: int = 5
    power: float = 3.0
    schedule: Optional[Union[ConstantSparsity, PolynomialDecay]] = None

    def __post_init__(self):
        _check_sparsity(self.target_sparsity, "MagnitudeConfig.target_sparsity")
        for pattern, s in self.layer_targets.items():
            _check_sparsity(s, f"MagnitudeConfig.layer_targets[{pattern!r}]")
        if not 0.0 < self.ramp_fraction <= 1.0:
            raise ValueError(f"MagnitudeConfig.ramp_fraction must be in (0, 1], got {self.ramp_fraction}")
        if self.frequency < 1:
            raise ValueError(f"MagnitudeConfig.frequency must be >= 1, got {self.frequency}")
        if self.power <= 0:
            raise ValueError(f"MagnitudeConfig.power must be > 0, got {self.power}")

    def schedule_for(self, total_steps: int) -> Schedule:
        """The explicit schedule, or polynomial decay ramping over the first `ramp_fraction` of `total_steps`."""
        if self.schedule is not None:
            return self.schedule
        end = max(1, int(round(self.ramp_fraction * total_steps)) - 1)
        return PolynomialDecay(self.target_sparsity, begin_step=0, end_step=end, power=self.power,
                               frequency=self.frequency)

    def targets(self, model) -> Dict[Tuple[str, str], float]:
        """(layer, weight attribute) -> final sparsity for every selected prunable weight of `model`."""
        weights = prunable_weights(model)
        names = list(dict.fromkeys(layer for layer, _, _ in weights))
        if not names:
            kinds = sorted({type(layer).__name__ for layer in model.layers})
            raise ValueError(f"model {model.name!r} has no prunable layers (it has {kinds}; prunable are "
                             f"{sorted(PRUNABLE_WEIGHTS)})")
        chosen = set(selected(names, self.include, self.exclude, "MagnitudeConfig"))
        check_rules(names, self.layer_targets, "MagnitudeConfig.layer_targets")
        return {(layer, attr): float(override(layer, self.layer_targets, self.target_sparsity))
                for layer, attr, _ in weights if layer in chosen}


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """A 0/1 mask zeroing exactly round(sparsity * size) of the smallest |w| (ties broken by position)."""
    flat = np.abs(np.asarray(weights, np.float64)).ravel()
    k = int(round(sparsity * flat.size))
    mask = np.ones(flat.size, np.float32)
    if k > 0:
        mask[np.argsort(flat, kind="stable")[:k]] = 0.0
    return mask.reshape(np.shape(weights))


class MagnitudePruning(Constraint):
    """Masks per selected weight, recomputed on the schedule's steps and re-applied after every batch."""

    name = "magnitude pruning"

    def __init__(self, config: MagnitudeConfig, schedule: Optional[Schedule] = None):
        self.config = config
        self.schedule = schedule
        self.masks: Dict[Tuple[str, str], np.ndarray] = {}
        self.targets: Dict[Tuple[str, str], float] = {}
        self._vars: List[Tuple[Tuple[str, str], object]] = []
        self.step = 0

    def on_begin(self, model, total_steps: int) -> None:
        self.targets = self.config.targets(model)
        if self.schedule is None:
            self.schedule = self.config.schedule_for(max(total_steps, 1))
        self._vars = [((layer, attr), var) for layer, attr, var in prunable_weights(model)
                      if (layer, attr) in self.targets]
        self.masks = {key: np.ones(tuple(var.shape), np.float32) for key, var in self._vars}
        if total_steps == 0:  # one shot: no fine-tuning, prune straight to the targets
            self._update(1.0)
            self._apply(self._vars)

    def _update(self, progress: float) -> None:
        for key, var in self._vars:
            self.masks[key] = magnitude_mask(var.numpy(), self.targets[key] * progress)

    def after_batch(self, model, step: int) -> None:
        should, s = self.schedule(step)
        if should:
            final = self.schedule.target_sparsity
            self._update(s / final if final > 0 else 1.0)
        self._apply(self._vars)
        self.step = step + 1

    def _apply(self, variables) -> None:
        for key, var in variables:
            var.assign(var.numpy() * self.masks[key])

    def strip(self, model):
        self._apply([((layer, attr), var) for layer, attr, var in prunable_weights(model)
                     if (layer, attr) in self.masks])
        return model


class KeepZeros(Constraint):
    """Weights that are exactly 0.0 when fine-tuning begins stay 0.0 (a later step keeps earlier pruning).

    Applies to every prunable weight; a step after pruning adds it to its own constraints so the
    optimizer cannot regrow what was pruned.
    """

    name = "keep zeros"

    def __init__(self):
        self.masks: Dict[Tuple[str, str], np.ndarray] = {}
        self._vars = []

    def on_begin(self, model, total_steps: int) -> None:
        self._vars = []
        for layer, attr, var in prunable_weights(model):
            w = var.numpy()
            if np.any(w == 0):
                self.masks[(layer, attr)] = (w != 0).astype(np.float32)
                self._vars.append(((layer, attr), var))

    def after_batch(self, model, step: int) -> None:
        for key, var in self._vars:
            var.assign(var.numpy() * self.masks[key])

    def strip(self, model):
        for layer, attr, var in prunable_weights(model):
            if (layer, attr) in self.masks:
                var.assign(var.numpy() * self.masks[(layer, attr)])
        return model

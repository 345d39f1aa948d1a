"""Pruning schedules: tiny callables `step -> (should_prune, target_sparsity)`.

A schedule says, at each training step, whether the masks should be recomputed now and to which
sparsity. Between those steps the current masks are kept, so pruned weights stay at zero.
Schedules are frozen dataclasses so a pruning configuration can be written to and read from JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

from edgewise.runtime.records import Record


def _in_window(step: int, begin: int, end: int, frequency: int) -> bool:
    return step >= begin and (end < 0 or step <= end) and (step - begin) % frequency == 0


@dataclass(frozen=True)
class ConstantSparsity(Record):
    """Hold one sparsity `s` from `begin_step` on (end_step = -1: forever), pruning every `frequency` steps.

    `(should_prune, s) = ((step - begin_step) % frequency == 0 and begin_step <= step <= end_step, s)`.
    Pruning in one shot loses more accuracy than ramping up (see PolynomialDecay), but is the
    simplest baseline.
    """

    target_sparsity: float
    begin_step: int = 0
    end_step: int = -1
    frequency: int = 100
    kind: str = "constant"

    def __post_init__(self):
        _check_kind(self, "constant")
        _check(self.target_sparsity, self.begin_step, self.end_step, self.frequency)

    def __call__(self, step: int) -> Tuple[bool, float]:
        return _in_window(step, self.begin_step, self.end_step, self.frequency), float(self.target_sparsity)


@dataclass(frozen=True)
class PolynomialDecay(Record):
    """Gradual pruning of Zhu & Gupta 2017, "To prune, or not to prune" (arXiv:1710.01878), eq. 1.

        s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_n - t_0)) ** power     for t_0 <= t <= t_n

    with s_i = `initial_sparsity`, s_f = `target_sparsity`, t_0 = `begin_step`, t_n = `end_step`,
    power = 3 in the paper. Sparsity rises fast while the network has many redundant weights and
    slowly as few remain, giving fine-tuning time to recover. Masks are updated every `frequency`
    steps inside [t_0, t_n]; the final step t_n always prunes to exactly s_f. After t_n the sparsity
    stays s_f and no further mask update happens.
    """

    target_sparsity: float
    begin_step: int
    end_step: int
    initial_sparsity: float = 0.0
    power: float = 3.0
    frequency: int = 10
    kind: str = "polynomial_decay"

    def __post_init__(self):
        _check_kind(self, "polynomial_decay")
        _check(self.target_sparsity, self.begin_step, self.end_step, self.frequency)
        _check(self.initial_sparsity, self.begin_step, self.end_step, self.frequency)
        if self.end_step <= self.begin_step:
            raise ValueError(f"PolynomialDecay: end_step ({self.end_step}) must be after "
                             f"begin_step ({self.begin_step})")

    def sparsity_at(self, step: int) -> float:
        t = min(max(step, self.begin_step), self.end_step)
        frac = (t - self.begin_step) / (self.end_step - self.begin_step)
        s_i, s_f = self.initial_sparsity, self.target_sparsity
        return float(s_f + (s_i - s_f) * (1.0 - frac) ** self.power)

    def __call__(self, step: int) -> Tuple[bool, float]:
        prune = _in_window(step, self.begin_step, self.end_step, self.frequency) or step == self.end_step
        return prune, self.sparsity_at(step)


Schedule = Union[ConstantSparsity, PolynomialDecay]
_KINDS = {"constant": ConstantSparsity, "polynomial_decay": PolynomialDecay}


def schedule_from_dict(d: dict) -> Schedule:
    """Rebuild a schedule written by `to_dict()` (its `kind` says which)."""
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind not in _KINDS:
        raise ValueError(f"unknown pruning schedule kind {kind!r}; known: {sorted(_KINDS)}")
    return _KINDS[kind].from_dict(d)


def _check(sparsity: float, begin: int, end: int, frequency: int) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if begin < 0:
        raise ValueError(f"begin_step must be >= 0, got {begin}")
    if end != -1 and end < begin:
        raise ValueError(f"end_step ({end}) must be -1 or >= begin_step ({begin})")
    if frequency < 1:
        raise ValueError(f"frequency must be >= 1, got {frequency}")


def _check_kind(schedule, kind: str) -> None:
    """`kind` is written to JSON so a reader knows which schedule a document holds."""
    if schedule.kind != kind:
        raise ValueError(f"{type(schedule).__name__}.kind must be {kind!r}, got {schedule.kind!r}")

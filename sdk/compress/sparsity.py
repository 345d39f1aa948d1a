"""Counting exact zeros: per weight tensor and overall, for Keras models and deployed files alike."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Tuple

import numpy as np

from edgewise.runtime.records import Record


@dataclass(frozen=True)
class TensorSparsity(Record):
    """How many of one weight tensor's elements are exactly zero."""

    name: str
    zeros: int
    total: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.total if self.total else 0.0

    _derived = ("sparsity",)


@dataclass(frozen=True)
class SparsitySummary(Record):
    """Per-tensor counts and the overall fraction of zeros (weighted by size, not a mean of fractions)."""

    tensors: Tuple[TensorSparsity, ...]

    @property
    def zeros(self) -> int:
        return sum(t.zeros for t in self.tensors)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tensors)

    @property
    def overall(self) -> float:
        return self.zeros / self.total if self.total else 0.0

    _derived = ("overall", "zeros", "total")

    @classmethod
    def of_arrays(cls, named: Iterable[Tuple[str, np.ndarray]]) -> "SparsitySummary":
        return cls(tuple(TensorSparsity(n, int(np.count_nonzero(np.asarray(a) == 0)), int(np.asarray(a).size))
                         for n, a in named))


def keras_sparsity(model) -> SparsitySummary:
    """Zeros in every prunable weight of a Keras model (see `prunable.PRUNABLE_WEIGHTS`)."""
    from .prunable import prunable_weights

    return SparsitySummary.of_arrays(
        (f"{layer}/{attr}", np.asarray(var.numpy())) for layer, attr, var in prunable_weights(model)
    )

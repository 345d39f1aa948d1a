"""Counting exact zeros in weight tensors: per tensor and overall, for Keras models and deployed files alike.

Lives in converters/ because a conversion result reports the zeros that reached the written file;
the compression package re-exports these records (`edgewise.compress.sparsity`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Tuple

import numpy as np

from edgewise.runtime.records import Record


@dataclass(frozen=True)
class TensorSparsity(Record):
    """How many of one weight tensor's elements are exactly zero."""

    _derived = ("sparsity",)

    name: str
    zeros: int
    total: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.total if self.total else 0.0


@dataclass(frozen=True)
class SparsitySummary(Record):
    """Per-tensor counts and the overall fraction of zeros (weighted by size, not a mean of fractions)."""

    _derived = ("overall", "zeros", "total")

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

    @classmethod
    def of_arrays(cls, named: Iterable[Tuple[str, np.ndarray]]) -> "SparsitySummary":
        return cls(tuple(TensorSparsity(n, int(np.count_nonzero(np.asarray(a) == 0)), int(np.asarray(a).size))
                         for n, a in named))

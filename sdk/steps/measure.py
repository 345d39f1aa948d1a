"""What every step is measured by, the same way for every technique.

`StepResult` is the step protocol's measurement record. Sizes are bytes on disk of what the step
wrote; "deployable size" is computed by one function, `deployable_size`, over the deployable
files a step produced, so the `.ewb` bundle can replace "the smallest TFLite file" in one place.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime.records import Record

DEPLOYABLE_SUFFIXES = (".tflite", ".ewb")  # the .ewb bundle wins wherever it is smaller (it always is for int8)


@dataclass(frozen=True)
class LayerValues(Record):
    """One weight tensor: how many distinct values it holds, of how many, and how many are zero."""

    name: str
    distinct: int
    total: int
    zeros: int = 0


@dataclass(frozen=True)
class StepResult(Record):
    """A recipe step's measurements: what it cost, what it saved, what it kept.

    `accuracy_before`/`accuracy` are on the held-out set (Keras for training steps, the written
    file on its preferred backend for quantize steps); `epochs` is the fine-tuning actually run,
    which the accuracy guard may have extended beyond what the recipe asked for.
    """

    index: int
    kind: str
    name: str
    wall_time_s: float
    accuracy_before: Optional[float]
    accuracy: Optional[float]
    size_bytes: int  # the step's own file: the saved .keras, or the smallest file a quantize step wrote
    deployable_bytes: Optional[int]  # see deployable_size(); None when the step wrote nothing deployable
    parameters: int
    sparsity: float  # zeros among the weight tensors
    layers: Tuple[LayerValues, ...] = ()
    epochs: int = 0
    guard_retries: int = 0
    artifacts: Tuple[str, ...] = ()  # relative to the output folder
    detail: str = ""

    _derived = ("accuracy_drop",)

    @property
    def accuracy_drop(self) -> Optional[float]:
        """Points of accuracy lost in this step (negative: gained)."""
        if self.accuracy is None or self.accuracy_before is None:
            return None
        return round((self.accuracy_before - self.accuracy) * 100.0, 6)


def deployable_file(paths: Sequence[str]) -> Optional[str]:
    """The smallest deployable file among `paths` (None if there is none).

    A TFLite file or an `.ewb` bundle (DEPLOYABLE_SUFFIXES); the bundle of an int8 file is the
    smaller wherever its entropy coding pays.
    """
    files = [p for p in paths if p.endswith(DEPLOYABLE_SUFFIXES) and os.path.isfile(p)]
    return min(files, key=lambda p: (os.path.getsize(p), p)) if files else None


def deployable_size(paths: Sequence[str]) -> Optional[int]:
    """Bytes of `deployable_file(paths)`: the one definition of "deployable size" (None if there is none)."""
    path = deployable_file(paths)
    return os.path.getsize(path) if path is not None else None


def layer_values(named: Sequence[Tuple[str, np.ndarray]]) -> Tuple[LayerValues, ...]:
    """Distinct values and zeros per weight tensor (clustering and k-bit steps show here)."""
    out = []
    for name, a in named:
        a = np.asarray(a)
        out.append(LayerValues(name, int(np.unique(a).size), int(a.size), int(np.count_nonzero(a == 0))))
    return tuple(out)


def keras_weights(model) -> Tuple[Tuple[str, np.ndarray], ...]:
    """(layer/weight, array) of every prunable (compressible) weight of a Keras model."""
    from ..compress.prunable import prunable_weights

    return tuple((f"{layer}/{attr}", np.asarray(var.numpy())) for layer, attr, var in prunable_weights(model))


def sparsity_of(layers: Sequence[LayerValues]) -> float:
    total = sum(l.total for l in layers)
    return sum(l.zeros for l in layers) / total if total else 0.0

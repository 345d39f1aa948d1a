"""Per-layer sensitivity: the accuracy lost when one layer alone is pruned, clustered, factorised or quantized.

Layers differ widely in how much compression they tolerate (Han et al. 2015, fig. 6: LeNet's
first conv loses accuracy long before the large fully-connected layers do). Probing each layer
alone, without fine-tuning, gives a table of accuracy drop per (layer, technique, setting). From
it `layer_targets` sets per-layer pruning targets by a network-wide ranking, as MLPrune
(Zeng & Urtasun 2019) and network-wide magnitude ranking do: weights are removed where they cost
the least accuracy per weight, instead of one ratio for every layer.

The probes are the techniques' definitions, applied once to one kernel: magnitude pruning
(smallest |w| to zero), k-means clustering to k shared values (1-D Lloyd iterations from linear
initialisation), truncated SVD keeping a fraction of the rank, and uniform symmetric b-bit
quantization (scale = max|w| / (2^(b-1) - 1)). Measured on labelled data the caller gives (the
fine-tuning data, not the held-out set: targets tuned on the held-out set would flatter it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime.records import Record

from .data import Dataset
from .progress import Progress, quiet

SPARSITIES = (0.5, 0.75, 0.9, 0.95)
CLUSTERS = (4, 8, 16)
RANK_FRACTIONS = (0.5, 0.25)
BITS = (8, 4, 2)
MAX_SAMPLES = 1000


@dataclass(frozen=True)
class SensitivityEntry(Record):
    """Accuracy when `layer` alone is compressed by `technique` at `setting` (drop in points)."""

    layer: str
    technique: str  # "prune" (setting: sparsity), "cluster" (clusters), "lowrank" (rank fraction), "quantize" (bits)
    setting: float
    accuracy: float
    drop: float


@dataclass(frozen=True)
class SensitivityTable(Record):
    """The probes of every compressible layer; `parameters` is each layer's kernel size."""

    baseline_accuracy: float
    samples: int
    entries: Tuple[SensitivityEntry, ...] = ()
    parameters: Dict[str, int] = field(default_factory=dict)

    def layers(self) -> List[str]:
        return list(self.parameters)

    def settings(self, technique: str) -> List[float]:
        return sorted({e.setting for e in self.entries if e.technique == technique})

    def drop(self, layer: str, technique: str, setting: float) -> Optional[float]:
        for e in self.entries:
            if e.layer == layer and e.technique == technique and e.setting == setting:
                return e.drop
        return None

    def ranking(self, technique: str = "prune") -> List[Tuple[str, float]]:
        """Layers from the least to the most sensitive: mean drop over the probed settings."""
        out = []
        for layer in self.parameters:
            drops = [e.drop for e in self.entries if e.layer == layer and e.technique == technique]
            if drops:
                out.append((layer, float(np.mean(drops))))
        return sorted(out, key=lambda t: t[1])

    def layer_targets(self, target_sparsity: float) -> Dict[str, float]:
        """Per-layer sparsities removing `target_sparsity` of all probed weights where it costs least.

        Greedy network-wide ranking: every layer starts dense; repeatedly the layer whose next
        probed sparsity level costs the least accuracy per removed weight, (drop_b - drop_a) /
        (n_l * (s_b - s_a)), moves up one level, until the removed weights reach the target.
        """
        levels = [0.0] + self.settings("prune")
        layers = [l for l in self.parameters if self.drop(l, "prune", levels[-1]) is not None]
        if not layers or levels == [0.0]:
            raise ValueError("the sensitivity table has no pruning probes to rank layers by")
        total = sum(self.parameters[l] for l in layers)
        if target_sparsity > levels[-1] + 1e-9:
            raise ValueError(f"target sparsity {target_sparsity} is beyond the largest probed level {levels[-1]}")
        at = {l: 0 for l in layers}
        removed = 0.0

        def cost(layer: str) -> float:
            a, b = levels[at[layer]], levels[at[layer] + 1]
            da = 0.0 if a == 0.0 else max(self.drop(layer, "prune", a), 0.0)
            db = max(self.drop(layer, "prune", b), 0.0)
            return (db - da) / (self.parameters[layer] * (b - a))

        targets = {l: 0.0 for l in layers}
        while removed < target_sparsity * total - 1e-9:
            movable = [l for l in layers if at[l] + 1 < len(levels)]
            if not movable:
                break
            best = min(movable, key=lambda l: (cost(l), -self.parameters[l]))
            a, b = levels[at[best]], levels[at[best] + 1]
            need = target_sparsity * total - removed
            step = min(b - a, need / self.parameters[best])  # the last move stops at the target exactly
            targets[best] = round(a + step, 4)
            removed += self.parameters[best] * step
            at[best] += 1
        return targets


def _prune(w: np.ndarray, sparsity: float) -> np.ndarray:
    from .compress.pruning.magnitude import magnitude_mask

    return w * magnitude_mask(w, sparsity)


def _cluster(w: np.ndarray, k: int, iterations: int = 20) -> np.ndarray:
    """1-D k-means (Lloyd) from linearly spaced centroids, the initialisation Han et al. 2016 found best."""
    flat = w.ravel()
    centroids = np.linspace(flat.min(), flat.max(), k)
    for _ in range(iterations):
        idx = np.abs(flat[:, None] - centroids[None, :]).argmin(axis=1)
        for j in range(k):
            members = flat[idx == j]
            if members.size:
                centroids[j] = members.mean()
    idx = np.abs(flat[:, None] - centroids[None, :]).argmin(axis=1)
    return centroids[idx].reshape(w.shape).astype(w.dtype)


def _lowrank(w: np.ndarray, fraction: float) -> np.ndarray:
    """Truncated SVD of the kernel as a (fan-in, fan-out) matrix, keeping `fraction` of its rank."""
    m = w.reshape(-1, w.shape[-1])
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    r = max(1, int(round(fraction * len(s))))
    return ((u[:, :r] * s[:r]) @ vt[:r]).reshape(w.shape).astype(w.dtype)


def _quantize(w: np.ndarray, bits: int) -> np.ndarray:
    q = 2 ** (int(bits) - 1) - 1
    scale = float(np.abs(w).max()) / q if np.abs(w).max() > 0 else 1.0
    return (np.clip(np.round(w / scale), -q, q) * scale).astype(w.dtype)


PROBES: Dict[str, Tuple[Callable[[np.ndarray, float], np.ndarray], Tuple[float, ...]]] = {
    "prune": (_prune, SPARSITIES),
    "cluster": (lambda w, k: _cluster(w, int(k)), CLUSTERS),
    "lowrank": (_lowrank, RANK_FRACTIONS),
    "quantize": (lambda w, b: _quantize(w, int(b)), BITS),
}


def analyze(model, data: Dataset, techniques: Sequence[str] = ("prune", "cluster", "lowrank", "quantize"),
            settings: Optional[Dict[str, Sequence[float]]] = None, progress: Progress = quiet,
            max_samples: int = MAX_SAMPLES) -> SensitivityTable:
    """Probe every prunable kernel of `model` alone with each technique; `model` is restored after each probe."""
    from .evaluate import keras_accuracy
    from .compress.prunable import prunable_weights

    unknown = sorted(set(techniques) - set(PROBES))
    if unknown:
        raise ValueError(f"unknown sensitivity technique(s) {unknown}; known: {sorted(PROBES)}")
    data = data.take(max_samples)
    base = keras_accuracy(model, data)
    weights = [(layer, var) for layer, attr, var in prunable_weights(model) if attr in ("kernel", "pointwise_kernel")]
    if not weights:
        raise ValueError(f"model {model.name!r} has no compressible kernels to probe")
    entries = []
    for layer, var in weights:
        original = np.array(var.numpy())
        progress(f"sensitivity of {layer} ({original.size} weights)")
        try:
            for tech in techniques:
                fn, default = PROBES[tech]
                for setting in (settings or {}).get(tech, default):
                    if tech == "lowrank" and original.ndim < 2:
                        continue
                    var.assign(fn(original, setting))
                    acc = keras_accuracy(model, data)
                    entries.append(SensitivityEntry(layer, tech, float(setting), acc, round((base - acc) * 100, 4)))
        finally:
            var.assign(original)
    return SensitivityTable(base, len(data), tuple(entries), {layer: int(var.numpy().size) for layer, var in weights})

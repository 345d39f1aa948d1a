"""Weight clustering that survives fine-tuning: shared centroids, fixed assignments.

Each selected kernel (or each output channel of it, `per_channel`) is clustered once into k
centroids; every weight then stores only its cluster index. During fine-tuning the optimizer
moves each weight by its own gradient; after every batch `ClusterSharing` sets every centroid to
the mean of its members and snaps the members back onto it. For SGD that is exactly a centroid
step by the mean gradient of its members (Deep Compression's gradient accumulation per shared
weight, with a learning rate scaled by 1/cluster size), so the sharing is never lost and k stays
an upper bound on the distinct values of each tensor (or channel) in the exported file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from edgewise.runtime.records import Record

from ..prunable import prunable_weights
from ..select import selected
from ..train import Constraint
from .kmeans import INITS, kmeans_1d

MAX_CLUSTERS = 256


@dataclass(frozen=True)
class ClusterConfig(Record):
    """k (`clusters`) centroids per selected kernel, or per output channel with `per_channel`."""

    clusters: int = 16
    init: str = "linear"
    per_channel: bool = False
    iterations: int = 30
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()

    def __post_init__(self):
        if not 2 <= self.clusters <= MAX_CLUSTERS:
            raise ValueError(f"ClusterConfig.clusters must be in [2, {MAX_CLUSTERS}], got {self.clusters}")
        if self.init not in INITS:
            raise ValueError(f"ClusterConfig.init must be one of {INITS}, got {self.init!r}")
        if self.iterations < 0:
            raise ValueError(f"ClusterConfig.iterations must be >= 0, got {self.iterations}")


def cluster_tensor(w: np.ndarray, config: ClusterConfig, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(centroids (channels * k,), index shaped like w) with channels = w.shape[-1] if per_channel else 1.

    index[i] points into the flat centroid array, so `centroids[index]` is the clustered tensor.
    """
    k = config.clusters
    if not config.per_channel:
        c, idx = kmeans_1d(w, k, config.init, config.iterations, seed)
        return c, idx.reshape(w.shape)
    cols = np.moveaxis(w, -1, 0).reshape(w.shape[-1], -1)
    centroids = np.empty((cols.shape[0], k))
    index = np.empty(cols.shape, np.int64)
    for ch, col in enumerate(cols):
        centroids[ch], a = kmeans_1d(col, k, config.init, config.iterations, seed)
        index[ch] = a + ch * k
    index = np.moveaxis(index.reshape((w.shape[-1],) + w.shape[:-1]), 0, -1)
    return centroids.ravel(), index


def cluster_selection(model, config: ClusterConfig, owner: str = "ClusterConfig"):
    """(layer, attr, variable) of every selected kernel."""
    weights = prunable_weights(model)
    if not weights:
        raise ValueError(f"model {model.name!r} has no kernels to cluster")
    names = set(selected(list(dict.fromkeys(n for n, _, _ in weights)), config.include, config.exclude, owner))
    return [(n, a, v) for n, a, v in weights if n in names]


class ClusterSharing(Constraint):
    """Cluster on begin; after every batch, centroid = mean of its members and members = centroid."""

    name = "clustering"

    def __init__(self, config: ClusterConfig, seed: int = 0):
        self.config = config
        self.seed = seed
        self.index: Dict[Tuple[str, str], np.ndarray] = {}
        self.centroids: Dict[Tuple[str, str], np.ndarray] = {}
        self._vars = []

    def on_begin(self, model, total_steps: int) -> None:
        self._vars = cluster_selection(model, self.config)
        for layer, attr, var in self._vars:
            c, idx = cluster_tensor(var.numpy(), self.config, self.seed)
            self.centroids[(layer, attr)], self.index[(layer, attr)] = c, idx
            var.assign(c[idx].astype(np.float32))

    def _snap(self, variables) -> None:
        for layer, attr, var in variables:
            key = (layer, attr)
            idx, c = self.index[key], self.centroids[key]
            flat = idx.ravel()
            sums = np.bincount(flat, weights=var.numpy().ravel().astype(np.float64), minlength=c.size)
            counts = np.bincount(flat, minlength=c.size)
            c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
            self.centroids[key] = c
            var.assign(c[idx].astype(np.float32))

    def after_batch(self, model, step: int) -> None:
        self._snap(self._vars)

    def strip(self, model):
        self._snap([(n, a, v) for n, a, v in prunable_weights(model) if (n, a) in self.index])
        return model

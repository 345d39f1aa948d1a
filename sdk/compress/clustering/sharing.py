"""Weight clustering that survives fine-tuning: shared centroids, fixed assignments.

Each selected kernel (or each output channel of it, `per_channel`) is clustered once into k
centroids; every weight then stores only its cluster index. During fine-tuning the optimizer
moves each weight by its own gradient; after every batch `ClusterSharing` sets every centroid to
the mean of its members and snaps the members back onto it. For SGD that is exactly a centroid
step by the mean gradient of its members (Deep Compression's gradient accumulation per shared
weight, with a learning rate scaled by 1/cluster size), so the sharing is never lost.

Three codebook layouts, chosen for what the int8 export does with them (the converter quantizes
weights per output channel with scale max|w_c| / 127):

* per tensor, `channel_scales=True` (default): w[..., c] = s_c * b[index], one codebook b shared
  by all channels, pinned at -1 and +1, and s_c = max |w[..., c]|. Every channel's largest weight
  sits at +-s_c, so the per-channel int8 scale is s_c / 127 and every channel maps onto the same
  codes round(127 b_j): at most k distinct values per tensor in the int8 file.
* per tensor, `channel_scales=False`: plain k-means over the tensor: at most k distinct values per
  tensor in the float file (per channel in the int8 file).
* `per_channel`: an independent codebook per output channel: at most k values per channel.

With `preserve_zeros` (default) a tensor that holds exact zeros (pruned before) gets a centroid
pinned at 0, so pruning then clustering keeps the zeros (Deep Compression's order); 0 counts as
one of the k values.
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
    """k (`clusters`) centroids per selected kernel, or per output channel with `per_channel` (see module doc)."""

    clusters: int = 16
    init: str = "linear"
    per_channel: bool = False
    iterations: int = 30
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    channel_scales: bool = True
    preserve_zeros: bool = True

    def __post_init__(self):
        if not 2 <= self.clusters <= MAX_CLUSTERS:
            raise ValueError(f"ClusterConfig.clusters must be in [2, {MAX_CLUSTERS}], got {self.clusters}")
        if self.init not in INITS:
            raise ValueError(f"ClusterConfig.init must be one of {INITS}, got {self.init!r}")
        if self.iterations < 0:
            raise ValueError(f"ClusterConfig.iterations must be >= 0, got {self.iterations}")

    @property
    def scaled(self) -> bool:
        return self.channel_scales and not self.per_channel


@dataclass(frozen=True, eq=False)
class Clustered:
    """A clustered tensor: values = codebook[index] * scale (scale broadcast along the last axis).

    `index` points into the flat `codebook`; the first `pinned` entries (of every `pinned_each`
    entries, for per-channel codebooks) never move.
    """

    codebook: np.ndarray
    index: np.ndarray
    scale: np.ndarray
    pinned: int = 0
    pinned_each: int = 0

    def values(self) -> np.ndarray:
        return (self.codebook[self.index] * self.scale).astype(np.float32)

    def update(self, w: np.ndarray, clip: bool) -> "Clustered":
        """New codebook: each free entry = mean of its members' (unscaled) values; see module doc."""
        flat = self.index.ravel()
        v = (np.asarray(w, np.float64) / self.scale).ravel()
        sums = np.bincount(flat, weights=v, minlength=self.codebook.size)
        counts = np.bincount(flat, minlength=self.codebook.size)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), self.codebook)
        fixed = np.arange(c.size) % (self.pinned_each or c.size) < self.pinned
        c[fixed] = self.codebook[fixed]
        if clip:
            c = np.clip(c, -1.0, 1.0)
        return Clustered(c, self.index, self.scale, self.pinned, self.pinned_each)


def cluster_tensor(w: np.ndarray, config: ClusterConfig, seed: int = 0) -> Clustered:
    """Cluster one kernel (last axis = output channels) as `config` says."""
    w = np.asarray(w, np.float64)
    k = config.clusters
    ones = np.ones(1)
    zero = (0.0,) if config.preserve_zeros and bool(np.any(w == 0)) else ()
    if config.per_channel:
        cols = np.moveaxis(w, -1, 0).reshape(w.shape[-1], -1)
        centroids = np.empty((cols.shape[0], k))
        index = np.empty(cols.shape, np.int64)
        for ch, col in enumerate(cols):
            centroids[ch], a = kmeans_1d(col, k, config.init, config.iterations, seed, pinned=zero)
            index[ch] = a + ch * k
        index = np.moveaxis(index.reshape((w.shape[-1],) + w.shape[:-1]), 0, -1)
        return Clustered(centroids.ravel(), index, ones, pinned=len(zero), pinned_each=k)
    if not config.channel_scales:
        c, idx = kmeans_1d(w, k, config.init, config.iterations, seed, pinned=zero)
        return Clustered(c, idx.reshape(w.shape), ones, pinned=len(zero))
    amax = np.abs(w).reshape(-1, w.shape[-1]).max(axis=0)
    scale = np.where(amax > 0, amax, 1.0)
    pins = (-1.0, 1.0) + zero
    if len(pins) > k:
        raise ValueError(f"ClusterConfig.clusters: {k} clusters cannot hold the pinned values {pins} (-1, +1 for "
                         "the channel scales and 0 for the pruned weights); use at least 3 or channel_scales=False")
    c, idx = kmeans_1d(w / scale, k, config.init, config.iterations, seed, pinned=pins)
    return Clustered(c, idx.reshape(w.shape), scale, pinned=len(pins))


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
        self.clustered: Dict[Tuple[str, str], Clustered] = {}
        self._vars = []

    def on_begin(self, model, total_steps: int) -> None:
        self._vars = cluster_selection(model, self.config)
        for layer, attr, var in self._vars:
            c = cluster_tensor(var.numpy(), self.config, self.seed)
            self.clustered[(layer, attr)] = c
            var.assign(c.values())

    def _snap(self, variables) -> None:
        for layer, attr, var in variables:
            key = (layer, attr)
            c = self.clustered[key].update(var.numpy(), clip=self.config.scaled)
            self.clustered[key] = c
            var.assign(c.values())

    def after_batch(self, model, step: int) -> None:
        self._snap(self._vars)

    def strip(self, model):
        self._snap([(n, a, v) for n, a, v in prunable_weights(model) if (n, a) in self.clustered])
        return model

"""k-bit weights (2-8 bits) on the float weights, so the int8 export holds at most 2^k values per tensor.

*Uniform* is symmetric linear quantization (Jacob et al. 2018, with the grid shrunk to k bits):
s = max|w| / (2^(k-1) - 1) per tensor or per output channel, w <- s * clip(round(w / s)). With
`per_channel` the grid of every channel is the same integers scaled by that channel's max, and the
int8 converter's per-channel scale is that same max / 127: every channel maps onto the same
2^k - 1 int8 codes, so the int8 file has at most 2^k - 1 distinct values per tensor. (Per-tensor
k-bit holds in the float file and per channel in the int8 file.) *Clustered* is k-means with 2^k
centroids (see `clustering`), a non-uniform grid that follows the weights' distribution.

`KBitProjection` keeps the weights on the grid during fine-tuning (projected gradient), and
With `preserve_zeros`, weights that are 0 when the step begins (pruned earlier) stay 0.
`layer_bits` records per-layer bits for the bundle format, which stores the k-bit codes
(`uniform_codes`, `cluster_codes`) instead of int8.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

from edgewise.runtime.records import Record

from ..clustering.sharing import ClusterConfig, ClusterSharing, cluster_selection, cluster_tensor
from ..prunable import prunable_weights
from ..select import check_rules, override
from ..train import Constraint

METHODS = ("uniform", "clustered")


@dataclass(frozen=True)
class KBitConfig(Record):
    """`bits` per weight for every selected kernel (`layer_bits`: glob -> bits overrides, later wins)."""

    bits: int = 4
    method: str = "uniform"
    per_channel: bool = True
    layer_bits: Dict[str, int] = field(default_factory=dict)
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    preserve_zeros: bool = True

    def __post_init__(self):
        for where, b in [("bits", self.bits)] + [(f"layer_bits[{p!r}]", b) for p, b in self.layer_bits.items()]:
            if isinstance(b, bool) or not isinstance(b, int) or not 2 <= b <= 8:
                raise ValueError(f"KBitConfig.{where} must be an integer in [2, 8], got {b!r}")
        if self.method not in METHODS:
            raise ValueError(f"KBitConfig.method must be one of {METHODS}, got {self.method!r}")


@dataclass(frozen=True)
class LayerBits(Record):
    """How one kernel is stored: its bits, method and granularity (what the bundle writer needs)."""

    layer: str
    weight: str
    bits: int
    method: str
    per_channel: bool


def uniform_codes(w: np.ndarray, bits: int, per_channel: bool) -> Tuple[np.ndarray, np.ndarray]:
    """(int8 codes in [-(2^(k-1)-1), 2^(k-1)-1] shaped like w, float32 scales (channels,) or (1,))."""
    qmax = 2 ** (bits - 1) - 1
    a = np.asarray(w, np.float64)
    amax = np.abs(a).reshape(-1, a.shape[-1]).max(axis=0) if per_channel else np.array([np.abs(a).max()])
    scale = np.where(amax > 0, amax / qmax, 1.0)
    codes = np.clip(np.round(a / scale), -qmax, qmax).astype(np.int8)
    return codes, scale.astype(np.float32)


def uniform_quantize(w: np.ndarray, bits: int, per_channel: bool) -> np.ndarray:
    codes, scale = uniform_codes(w, bits, per_channel)
    return (codes.astype(np.float64) * scale.astype(np.float64)).astype(np.float32)


def cluster_codes(w: np.ndarray, bits: int, per_channel: bool,
                  seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uint8 indices shaped like w, float32 codebook (channels or 1, 2^k), float32 scales (channels,) or (1,)).

    k-means with 2^k centroids: w ~ codebook[channel or 0, index] * scale[channel or 0]. Per tensor,
    the codebook is shared and scaled per channel (see `clustering.sharing`).
    """
    k = 2 ** bits
    c = cluster_tensor(np.asarray(w), ClusterConfig(k, "linear", per_channel), seed)
    return ((c.index % k).astype(np.uint8), c.codebook.reshape(-1, k).astype(np.float32),
            np.asarray(c.scale, np.float32).reshape(-1))


class KBitProjection(Constraint):
    """Round every selected kernel onto its k-bit grid at begin and after every batch."""

    name = "k-bit weights"

    def __init__(self, config: KBitConfig, seed: int = 0):
        self.config = config
        self.bits: Dict[Tuple[str, str], int] = {}
        self._clusters: Dict[int, ClusterSharing] = {}
        self._keep: Dict[Tuple[str, str], np.ndarray] = {}
        self._vars = []
        self.seed = seed

    def on_begin(self, model, total_steps: int) -> None:
        cfg = self.config
        self._vars = cluster_selection(model, ClusterConfig(include=cfg.include, exclude=cfg.exclude), "KBitConfig")
        check_rules([n for n, _, _ in prunable_weights(model)], cfg.layer_bits, "KBitConfig.layer_bits")
        self.bits = {(n, a): int(override(n, cfg.layer_bits, cfg.bits)) for n, a, _ in self._vars}
        if cfg.method == "clustered":
            for b in sorted(set(self.bits.values())):
                names = tuple(n for (n, _), bb in self.bits.items() if bb == b)
                sharing = ClusterSharing(ClusterConfig(2 ** b, "linear", cfg.per_channel, include=names,
                                                       preserve_zeros=cfg.preserve_zeros), self.seed)
                sharing.on_begin(model, total_steps)
                self._clusters[b] = sharing
        else:
            if cfg.preserve_zeros:
                self._keep = {(n, a): (v.numpy() != 0).astype(np.float32) for n, a, v in self._vars
                              if np.any(v.numpy() == 0)}
            self._round(self._vars)

    def _round(self, variables) -> None:
        for n, a, var in variables:
            w = var.numpy()
            if (n, a) in self._keep:
                w = w * self._keep[(n, a)]
            var.assign(uniform_quantize(w, self.bits[(n, a)], self.config.per_channel))

    def after_batch(self, model, step: int) -> None:
        if self.config.method == "clustered":
            for sharing in self._clusters.values():
                sharing.after_batch(model, step)
        else:
            self._round(self._vars)

    def strip(self, model):
        if self.config.method == "clustered":
            for sharing in self._clusters.values():
                model = sharing.strip(model)
            return model
        self._round([(n, a, v) for n, a, v in prunable_weights(model) if (n, a) in self.bits])
        return model

    def layer_bits(self) -> Tuple[LayerBits, ...]:
        return tuple(LayerBits(n, a, b, self.config.method, self.config.per_channel)
                     for (n, a), b in self.bits.items())

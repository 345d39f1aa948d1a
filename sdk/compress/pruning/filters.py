"""Filter (channel) pruning that physically removes filters: a smaller dense model, faster everywhere.

Zeroed weights make a file smaller only with a sparse encoding and faster only on a sparse
kernel; a removed filter is gone on every runtime. Removing output channel c of a Conv/Dense
layer removes everything that depends on it (Li et al. 2017, "Pruning Filters for Efficient
ConvNets"): its bias, the BatchNormalization statistics of channel c, a DepthwiseConv2D's
channel c (and its multiplier's outputs), the positions of c in a following Flatten, the input
channel c of every consuming Conv/Dense, and its offset in a Concatenate. Producers whose
channels meet in an element-wise merge (a residual Add, Multiply, ...) lose the same channels
together (see `groups`); producers whose channels reach a layer that mixes channels (Softmax,
LayerNormalization, a Reshape) or the model's output are left whole with the reason recorded
(or refused when named in `include`).

Filters are chosen per layer by the L1 or L2 norm of their weights (Li et al.), or by measured
sensitivity: the loss increase on data when that filter's output alone is zeroed (kernel and
bias), which equals removal when the path to the next consumer maps 0 to 0 (ReLU, pooling).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from edgewise.runtime.records import Record

from ..select import check_rules, override, selected
from .graph import parents
from .groups import MERGES, PASS_THROUGH, PRODUCERS, channel_groups

CRITERIA = ("l1", "l2", "sensitivity")


@dataclass(frozen=True)
class FilterPruneConfig(Record):
    """Remove `fraction` of the filters of each selected layer (`layer_fractions`: glob -> fraction)."""

    fraction: float = 0.25
    layer_fractions: Dict[str, float] = field(default_factory=dict)
    criterion: str = "l1"
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    sensitivity_samples: int = 256

    def __post_init__(self):
        for where, f in [("fraction", self.fraction)] + [(f"layer_fractions[{p!r}]", f)
                                                          for p, f in self.layer_fractions.items()]:
            if not 0.0 <= f < 1.0:
                raise ValueError(f"FilterPruneConfig.{where} must be in [0, 1), got {f}")
        if self.criterion not in CRITERIA:
            raise ValueError(f"FilterPruneConfig.criterion must be one of {CRITERIA}, got {self.criterion!r}")
        if self.sensitivity_samples < 1:
            raise ValueError(f"FilterPruneConfig.sensitivity_samples must be >= 1, got {self.sensitivity_samples}")


@dataclass(frozen=True)
class RemovedFilters(Record):
    """Which output channels of one layer were removed (`reason` says why a layer was left whole)."""

    layer: str
    filters_before: int
    removed: Tuple[int, ...] = ()
    reason: str = ""

    @property
    def filters_after(self) -> int:
        return self.filters_before - len(self.removed)

    _derived = ("filters_after",)


@dataclass(frozen=True)
class FilterPruneResult:
    model: object
    layers: Tuple[RemovedFilters, ...]


def _out_channels(layer) -> int:
    return int(layer.kernel.shape[-1])


def filter_scores(model, layer_name, criterion: str, data=None, samples: int = 256) -> np.ndarray:
    """One score per output filter of `layer_name` (or of a group of layers sharing channels); lowest go first.

    For a group, norms are summed after dividing each layer's by its mean (layers of different
    fan-in weigh alike), and sensitivity zeroes channel f in every member at once.
    """
    names = (layer_name,) if isinstance(layer_name, str) else tuple(layer_name)
    layers = [model.get_layer(n) for n in names]
    if criterion in ("l1", "l2"):
        total = 0.0
        for layer in layers:
            k = layer.kernel.numpy()
            cols = np.moveaxis(k, -1, 0).reshape(k.shape[-1], -1).astype(np.float64)
            norm = np.abs(cols).sum(axis=1) if criterion == "l1" else np.sqrt((cols ** 2).sum(axis=1))
            total = total + (norm / norm.mean() if len(layers) > 1 and norm.mean() > 0 else norm)
        return np.asarray(total)
    if data is None:
        raise ValueError("FilterPruneConfig.criterion 'sensitivity' needs data (pass data= with labels)")
    x, y = data.x[:samples], data.labels()[:samples]
    base = _loss(model, x, y)
    saved = [[w.copy() for w in layer.get_weights()] for layer in layers]
    scores = np.empty(_out_channels(layers[0]))
    try:
        for f in range(scores.size):
            for layer, weights in zip(layers, saved):
                zeroed = [w.copy() for w in weights]
                zeroed[0][..., f] = 0.0
                if len(zeroed) > 1:
                    zeroed[1][f] = 0.0
                layer.set_weights(zeroed)
            scores[f] = _loss(model, x, y) - base
    finally:
        for layer, weights in zip(layers, saved):
            layer.set_weights(weights)
    return scores


def _loss(model, x, y) -> float:
    p = np.asarray(model(x, training=False), np.float64)
    if np.any(p < 0) or not np.allclose(p.sum(axis=-1), 1.0, atol=1e-3):
        p = np.exp(p - p.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
    return float(-np.log(np.clip(p[np.arange(len(y)), y.astype(int)], 1e-12, 1.0)).mean())


def choose_filters(model, config: FilterPruneConfig, data=None) -> Tuple[Dict[str, np.ndarray], List[RemovedFilters]]:
    """(layer -> kept output channels, one RemovedFilters per producer) for `config` on `model`.

    Producers that share channels through a merge are decided together: all selected or the group
    stays whole; the smallest fraction of its members applies to all.
    """
    producers = [layer for layer in model.layers if type(layer).__name__ in PRODUCERS]
    if not producers:
        raise ValueError(f"model {model.name!r} has no {'/'.join(PRODUCERS)} layer to prune filters of")
    names = [layer.name for layer in producers]
    chosen = set(selected(names, config.include, config.exclude, "FilterPruneConfig"))
    check_rules(names, config.layer_fractions, "FilterPruneConfig.layer_fractions")
    groups, blocked = channel_groups(model)
    keep: Dict[str, np.ndarray] = {}
    decided: Dict[str, RemovedFilters] = {}
    for group in groups:
        n = _out_channels(model.get_layer(group[0]))
        why = next((blocked[m] for m in group if m in blocked), "")
        if why and config.include and any(m in chosen for m in group):
            m = next(m for m in group if m in chosen)
            raise ValueError(f"FilterPruneConfig.include: cannot remove filters of {m!r}: {blocked[m]}")
        missing = [m for m in group if m not in chosen]
        if not why and missing:
            why = "not selected" if len(missing) == len(group) else \
                f"shares its channels with {missing[0]!r} through an element-wise merge, which is not selected"
        frac = min(float(override(m, config.layer_fractions, config.fraction)) for m in group)
        drop = min(int(frac * n), n - 1)
        if not why and drop == 0:
            why = "fraction removes no filter"
        if why:
            for m in group:
                decided[m] = RemovedFilters(m, n, (), blocked.get(m, why))
            continue
        scores = filter_scores(model, group, config.criterion, data, config.sensitivity_samples)
        removed = np.sort(np.argsort(scores, kind="stable")[:drop])
        for m in group:
            keep[m] = np.setdiff1d(np.arange(n), removed)
            decided[m] = RemovedFilters(m, n, tuple(int(i) for i in removed))
    return keep, [decided[n] for n in names]


def prune_filters(model, config: FilterPruneConfig, data=None) -> FilterPruneResult:
    """A new, smaller dense model without the chosen filters and everything that depended on them."""
    keep, report = choose_filters(model, config, data)
    return FilterPruneResult(remove_filters(model, keep), tuple(report))


def remove_filters(model, keep: Dict[str, np.ndarray]):
    """Rebuild `model` keeping only `keep[layer]` output channels of the named producers."""
    import keras

    ps = parents(model)
    channels: Dict[str, Optional[np.ndarray]] = {}  # layer -> kept output channel indices (None: all)
    new_weights: Dict[str, List[np.ndarray]] = {}

    def incoming(name: str) -> Optional[np.ndarray]:
        ins = [channels.get(p) for p in ps[name]]
        return ins[0] if ins else None

    for layer in model.layers:
        kind, name = type(layer).__name__, layer.name
        w = layer.get_weights()
        inp = incoming(name)
        if kind in PRODUCERS:
            out = keep.get(name)
            if inp is not None:
                w[0] = np.take(w[0], inp, axis=-2)
            if out is not None:
                w[0] = np.take(w[0], out, axis=-1)
                if len(w) > 1:
                    w[1] = w[1][out]
            channels[name] = out
        elif kind == "BatchNormalization":
            if inp is not None:
                w = [v[inp] for v in w]
            channels[name] = inp
        elif kind == "DepthwiseConv2D":
            m = int(w[0].shape[-1])
            if inp is not None:
                w[0] = w[0][:, :, inp, :]
                if len(w) > 1:
                    w[1] = w[1].reshape(-1, m)[inp].ravel()
            channels[name] = None if inp is None else (inp[:, None] * m + np.arange(m)[None, :]).ravel()
        elif kind == "Flatten":
            if inp is not None:
                shape = tuple(layer.input.shape[1:])
                c = int(shape[-1])
                positions = int(np.prod(shape[:-1]))
                channels[name] = (np.arange(positions)[:, None] * c + inp[None, :]).ravel()
            else:
                channels[name] = None
        elif kind == "Concatenate":
            ins = [channels.get(p) for p in ps[name]]
            if all(i is None for i in ins):
                channels[name] = None
            else:
                parts, offset = [], 0
                for p, idx in zip(ps[name], ins):
                    width = int(model.get_layer(p).output.shape[-1])
                    parts.append(offset + (np.arange(width) if idx is None else idx))
                    offset += width
                channels[name] = np.concatenate(parts)
        elif kind in PASS_THROUGH:
            channels[name] = inp
        elif kind in MERGES:
            ins = [channels.get(p) for p in ps[name]]
            if any((a is None) != (ins[0] is None) or (a is not None and not np.array_equal(a, ins[0])) for a in ins):
                raise ValueError(f"remove_filters: the inputs of {kind} {name!r} would keep different channels "
                                 f"({', '.join(ps[name])}); prune them as one group")
            channels[name] = ins[0]
        elif any(channels.get(p) is not None for p in ps[name]):
            raise ValueError(f"remove_filters: {kind} {name!r} receives pruned channels and cannot be re-indexed")
        else:
            channels[name] = None
        new_weights[name] = w

    def clone(layer):
        cfg = layer.get_config()
        if layer.name in keep:
            cfg["units" if "units" in cfg else "filters"] = int(len(keep[layer.name]))
        return type(layer).from_config(cfg)

    new = keras.models.clone_model(model, clone_function=clone)
    for layer in new.layers:
        if layer.name in new_weights and new_weights[layer.name]:
            layer.set_weights(new_weights[layer.name])
    return new

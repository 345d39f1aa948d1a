"""Which filters can be removed, and which must go together: channel groups across element-wise merges.

A residual `Add` (or Multiply, Maximum, ...) combines channel c of each branch with channel c of
the others, so the producers feeding it - through layers that keep the channel order (ReLU,
pooling, BatchNormalization, a depthwise conv with multiplier 1) - share one channel index: they
form a group that loses the same channels or none (He et al. 2017's "channel pruning" meets the
same constraint in ResNets). Groups are found with a union-find over the merges.

A producer (or its whole group) is left whole, with the reason, when its channels reach the
model output, a merge one of whose inputs has no prunable producer (the model input, a Flatten),
or a layer that mixes channels in a way edgewise does not re-index (Softmax, LayerNormalization,
Reshape, ...).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .graph import children, output_layers, parents

PRODUCERS = ("Conv1D", "Conv2D", "Conv3D", "Dense")
PASS_THROUGH = {
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "Identity", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D", "ZeroPadding2D",
    "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
}
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
REINDEXED = ("BatchNormalization", "DepthwiseConv2D", "Flatten", "Concatenate")


def _keeps_order(layer) -> bool:
    """The layer's output channel c is its input channel c (so a merge downstream lines them up)."""
    kind = type(layer).__name__
    if kind in PASS_THROUGH:
        return True
    if kind == "BatchNormalization":
        return _bn_on_channels(layer)
    return kind == "DepthwiseConv2D" and layer.depth_multiplier == 1


def _bn_on_channels(layer) -> bool:
    axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
    return axis in (-1, len(layer.input.shape) - 1)


class _UnionFind:
    def __init__(self):
        self.parent: Dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def channel_groups(model) -> Tuple[List[Tuple[str, ...]], Dict[str, str]]:
    """(groups of producers that share channels, in model order; producer -> why it cannot be pruned)."""
    ps, kids, outs = parents(model), children(model), set(output_layers(model))
    layers = {layer.name: layer for layer in model.layers}
    kinds = {n: type(layer).__name__ for n, layer in layers.items()}
    uf, source, reasons = _UnionFind(), {}, {}
    merge_ok = set()
    for name, layer in layers.items():
        kind = kinds[name]
        if kind in PRODUCERS:
            source[name] = name
            uf.find(name)
        elif kind in MERGES:
            srcs = [source.get(p) for p in ps[name]]
            known = [s for s in srcs if s is not None]
            if len(known) == len(srcs):
                for s in known[1:]:
                    uf.union(s, known[0])
                source[name] = known[0]
                merge_ok.add(name)
            else:
                other = ps[name][srcs.index(None)]
                for s in known:
                    reasons.setdefault(s, f"feeds {kind} {name!r}, whose input {other!r} has no prunable layer to "
                                          "lose the same channels")
                source[name] = None
        elif _keeps_order(layer) and ps[name]:
            source[name] = source.get(ps[name][0])
        else:
            source[name] = None
    for name, layer in layers.items():
        if kinds[name] not in PRODUCERS or name in reasons:
            continue
        if getattr(layer, "groups", 1) != 1:
            reasons[name] = "grouped convolution"
            continue
        reasons.update(_reach(name, kids, kinds, layers, outs, merge_ok))
    members: Dict[str, List[str]] = {}
    for name in layers:
        if kinds[name] in PRODUCERS:
            members.setdefault(uf.find(name), []).append(name)
    groups = [tuple(m) for m in members.values()]
    for group in groups:  # one member that cannot lose channels keeps the whole group whole
        bad = next((m for m in group if m in reasons), None)
        for m in group:
            if bad is not None and m not in reasons:
                reasons[m] = f"shares its channels with {bad!r} through an element-wise merge, and {bad!r} " \
                             f"{reasons[bad].split(':')[0]}"
    return groups, reasons


def _reach(start: str, kids, kinds, layers, outs, merge_ok) -> Dict[str, str]:
    """Follow `start`'s channels to the layers that absorb them; a reason if they reach something else."""
    stack, seen = [start], set()
    while stack:
        name = stack.pop()
        if name in outs:
            return {start: f"its channels reach the model output through {name!r}"}
        for kid in kids.get(name, []):
            kind = kinds[kid]
            if kid in seen or kind in PRODUCERS:
                continue
            seen.add(kid)
            if kind in MERGES:
                if kid not in merge_ok:
                    return {start: f"feeds {kind} {kid!r}, whose other inputs cannot lose the same channels"}
                stack.append(kid)
            elif kind in PASS_THROUGH or kind in REINDEXED:
                if kind == "BatchNormalization" and not _bn_on_channels(layers[kid]):
                    return {start: f"feeds BatchNormalization {kid!r} on a non-channel axis"}
                stack.append(kid)
            else:
                return {start: f"feeds {kind} {kid!r}, whose channels edgewise cannot re-index"}
    return {}


def blockers(model) -> Dict[str, str]:
    """Producer name -> why its filters cannot be removed (absent: they can, with its group)."""
    return channel_groups(model)[1]


def group_of(groups: List[Tuple[str, ...]], name: str) -> Optional[Tuple[str, ...]]:
    return next((g for g in groups if name in g), None)

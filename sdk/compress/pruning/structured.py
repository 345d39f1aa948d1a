"""Structured sparsity: N:M groups and aligned blocks, in exactly the patterns the runtime runs fast.

The patterns are those `edgewise.runtime.sparse.structure` recognises in a deployed file, on the
(out, in) matrix as TFLite stores a kernel (Dense: kernel.T; Conv: OHWI flattened to
(out, kh*kw*in)):

* N:M (Mishra et al. 2021, the 2:4 pattern of Ampere sparse tensor cores): in every group of M
  consecutive inputs of a row at most N weights are non-zero. M is one of the runtime's
  `NM_GROUPS` up to 8 and N <= M/2 (denser is not run sparse). The N largest |w| of each group stay.
* bh x bw blocks (TFLite block sparsity): whole aligned blocks are zero; the blocks with the
  smallest L2 norm go, `sparsity` of them. bh, bw are powers of two up to the runtime's `MAX_BLOCK`,
  and sparsity >= 0.5 (the runtime does not call a matrix with more kept blocks "blocked").

The masks are computed once from the trained weights (one shot) and held by the fine-tuning loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from edgewise.runtime.records import Record
from edgewise.runtime.sparse.structure import MAX_BLOCK, NM_GROUPS

from ..select import leaf_layers, selected
from ..train import Constraint

MAX_M = 8
NM_CHOICES = tuple(m for m in NM_GROUPS if m <= MAX_M)
STRUCTURED_LAYERS = ("Dense", "Conv1D", "Conv2D", "Conv3D")


@dataclass(frozen=True)
class StructuredConfig(Record):
    """`kind` "nm" keeps `n` of every `m` inputs; `kind` "block" zeroes `sparsity` of the `block` (bh, bw) blocks."""

    kind: str = "nm"
    n: int = 2
    m: int = 4
    block: Tuple[int, int] = (4, 4)
    sparsity: float = 0.5
    include: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in ("nm", "block"):
            raise ValueError(f"StructuredConfig.kind must be 'nm' or 'block', got {self.kind!r}")
        if self.kind == "nm":
            if self.m not in NM_CHOICES:
                raise ValueError(f"StructuredConfig.m must be one of {NM_CHOICES} (the runtime's N:M groups up to "
                                 f"{MAX_M}), got {self.m}")
            if not 1 <= self.n <= self.m // 2:
                raise ValueError(f"StructuredConfig.n must be in [1, m/2 = {self.m // 2}], got {self.n}")
        else:
            for i, b in enumerate(self.block):
                if b < 1 or b > MAX_BLOCK or b & (b - 1):
                    raise ValueError(f"StructuredConfig.block[{i}] must be a power of 2 up to {MAX_BLOCK}, got {b}")
            if len(self.block) != 2 or self.block == (1, 1):
                raise ValueError(f"StructuredConfig.block must be two sizes other than (1, 1), got {self.block}")
            if not 0.5 <= self.sparsity < 1.0:
                raise ValueError(f"StructuredConfig.sparsity must be in [0.5, 1) for blocks, got {self.sparsity}")

    @property
    def label(self) -> str:
        return f"{self.n}:{self.m}" if self.kind == "nm" else f"block {self.block[0]}x{self.block[1]}"


def as_matrix(kernel: np.ndarray) -> np.ndarray:
    """A Keras Dense/Conv kernel (..., in, out) as the (out, in * spatial) matrix TFLite stores (OHWI)."""
    return np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)


def from_matrix(matrix: np.ndarray, kernel_shape: Tuple[int, ...]) -> np.ndarray:
    """Inverse of `as_matrix`."""
    out = kernel_shape[-1]
    return np.moveaxis(matrix.reshape((out,) + tuple(kernel_shape[:-1])), 0, -1)


def nm_mask(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """0/1 mask of an (out, in) matrix keeping the n largest |w| of each m consecutive inputs of a row."""
    out, cin = w.shape
    if cin % m:
        raise ValueError(f"{cin} inputs are not a multiple of the group size {m}")
    groups = np.abs(w).reshape(out, cin // m, m)
    order = np.argsort(-groups, axis=-1, kind="stable")
    mask = np.zeros_like(groups, dtype=np.float32)
    np.put_along_axis(mask, order[..., :n], 1.0, axis=-1)
    return mask.reshape(out, cin)


def block_mask(w: np.ndarray, bh: int, bw: int, sparsity: float) -> np.ndarray:
    """0/1 mask of an (out, in) matrix zeroing round(sparsity * blocks) aligned bh x bw blocks of least L2 norm."""
    out, cin = w.shape
    if out % bh or cin % bw:
        raise ValueError(f"shape {w.shape} is not a multiple of the block {bh}x{bw}")
    norms = np.sqrt((w.reshape(out // bh, bh, cin // bw, bw) ** 2).sum(axis=(1, 3))).ravel()
    drop = int(round(sparsity * norms.size))
    keep = np.ones(norms.size, np.float32)
    keep[np.argsort(norms, kind="stable")[:drop]] = 0.0
    blocks = keep.reshape(out // bh, cin // bw)
    return np.repeat(np.repeat(blocks, bh, axis=0), bw, axis=1)


def structured_masks(model, config: StructuredConfig) -> Dict[str, np.ndarray]:
    """Layer name -> 0/1 mask shaped like its kernel, for every selected Dense/Conv layer."""
    layers = [layer for layer in leaf_layers(model) if type(layer).__name__ in STRUCTURED_LAYERS]
    if not layers:
        raise ValueError(f"model {model.name!r} has no {'/'.join(STRUCTURED_LAYERS)} layer to prune {config.label}")
    names = selected([layer.name for layer in layers], config.include, config.exclude, "StructuredConfig")
    masks = {}
    for layer in layers:
        if layer.name not in names:
            continue
        kernel = layer.kernel.numpy()
        w = as_matrix(kernel)
        try:
            mask = (nm_mask(w, config.n, config.m) if config.kind == "nm"
                    else block_mask(w, config.block[0], config.block[1], config.sparsity))
        except ValueError as e:
            raise ValueError(f"layer {layer.name!r}: cannot prune {config.label}: {e}; exclude it "
                             "(StructuredConfig.exclude)") from None
        masks[layer.name] = from_matrix(mask, kernel.shape)
    return masks


class StructuredPruning(Constraint):
    """One-shot N:M or block masks, held through fine-tuning."""

    name = "structured pruning"

    def __init__(self, config: StructuredConfig):
        self.config = config
        self.masks: Dict[str, np.ndarray] = {}

    def on_begin(self, model, total_steps: int) -> None:
        self.masks = structured_masks(model, self.config)
        self._apply(model)

    def after_batch(self, model, step: int) -> None:
        self._apply(model)

    def _apply(self, model) -> None:
        for layer in leaf_layers(model):
            if layer.name in self.masks:
                layer.kernel.assign(layer.kernel.numpy() * self.masks[layer.name])

    def strip(self, model):
        self._apply(model)
        return model

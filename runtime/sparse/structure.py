"""Which zero pattern a constant weight matrix follows: unstructured, N:M, or blocks.

Measured once at load on the (out, in) weight matrix. Two patterns are recognised besides plain
unstructured sparsity:

* N:M along the input axis (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks", the
  2:4 pattern of Ampere sparse tensor cores): every group of M consecutive inputs of a row holds at
  most N non-zeros. Accepted only when the matrix is *full* N:M (at least `FILL` of the N slots
  used), so a randomly sparse matrix is not mistaken for a loose 7:16 pattern.
* bh x bw blocks (tfmot's `block_size` pruning, TFLite block sparsity): the non-zeros lie in aligned
  blocks. Accepted when the non-zero blocks are at least `FILL` full; zeros inside a kept block
  (weights that quantize to 0) are allowed, and the kept blocks must cover at most half of W (a
  nearly dense matrix is trivially "full blocks"). The largest such block is reported.

Block detection grows blocks by doubling from 1x1 and stops in a direction as soon as the fill
drops, so a random pattern is rejected after two cheap reductions over the mask.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ..records import Record

FILL = 0.75
NM_GROUPS = (4, 8, 16)
MAX_BLOCK = 16


@dataclass(frozen=True)
class Structure(Record):
    """The measured zero pattern of an (out, in) weight matrix."""

    shape: Tuple[int, int]
    nnz: int
    nm: Optional[Tuple[int, int]] = None  # (N, M): at most N non-zeros in each M consecutive inputs
    block: Optional[Tuple[int, int]] = None  # (bh, bw): non-zeros lie in aligned bh x bw blocks
    block_fill: float = 0.0  # non-zeros / (kept blocks * bh * bw)

    @property
    def density(self) -> float:
        size = self.shape[0] * self.shape[1]
        return self.nnz / size if size else 0.0

    @property
    def label(self) -> str:
        """'dense', 'N:M', 'block BHxBW' or 'unstructured'."""
        if self.nnz == self.shape[0] * self.shape[1]:
            return "dense"
        if self.nm is not None:
            return f"{self.nm[0]}:{self.nm[1]}"
        if self.block is not None:
            return f"block {self.block[0]}x{self.block[1]}"
        return "unstructured"


def block_mask(mask: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(out/bh, in/bw) booleans: which aligned bh x bw blocks hold a non-zero (bh, bw powers of 2).

    Reads bw adjacent booleans as one unsigned integer (non-zero iff any is set) and ORs strided row
    slices: two passes over the mask, where a 4-D `.any(axis=(1, 3))` costs ~50x more.
    """
    m = np.ascontiguousarray(mask)
    if bw > 1:
        u = m.view(np.dtype("u%d" % min(bw, 8)))
        while u.shape[1] > m.shape[1] // bw:
            u = u[:, 0::2] | u[:, 1::2]
        m = u != 0
    if bh > 1:
        rows = m[0::bh].copy()
        for i in range(1, bh):
            rows |= m[i::bh]
        m = rows
    return m


def group_counts(mask: np.ndarray, m: int) -> np.ndarray:
    """(out, in/m) uint8: non-zeros in each group of m consecutive inputs (m a power of 2)."""
    c = np.ascontiguousarray(mask).view(np.uint8)
    while c.shape[1] > mask.shape[1] // m:
        c = c[:, 0::2] + c[:, 1::2]
    return c


def _nm(mask: np.ndarray, nnz: int) -> Optional[Tuple[int, int]]:
    out, cin = mask.shape
    best = None
    for m in NM_GROUPS:
        if cin % m or cin < m:
            continue
        n = int(group_counts(mask, m).max(initial=0))
        if n == 0 or 2 * n > m or nnz < FILL * out * cin * n / m:
            continue
        if best is None or n * best[1] < best[0] * m:
            best = (n, m)
    return best


def _block(mask: np.ndarray, nnz: int) -> Tuple[Optional[Tuple[int, int]], float]:
    out, cin = mask.shape
    best, best_fill = None, 0.0
    frontier = [(1, 1)]
    seen = set()
    while frontier:
        bh, bw = frontier.pop()
        for nbh, nbw in ((2 * bh, bw), (bh, 2 * bw)):
            if (nbh, nbw) in seen or nbh > MAX_BLOCK or nbw > MAX_BLOCK or out % nbh or cin % nbw:
                continue
            seen.add((nbh, nbw))
            kept = int(np.count_nonzero(block_mask(mask, nbh, nbw)))
            fill = nnz / (kept * nbh * nbw)
            if fill < FILL or kept * nbh * nbw * 2 > out * cin:
                continue
            frontier.append((nbh, nbw))
            if best is None or nbh * nbw > best[0] * best[1]:
                best, best_fill = (nbh, nbw), fill
    return best, best_fill


def analyze(w: np.ndarray) -> Structure:
    """Measure the density and the zero pattern of a constant (out, in) weight matrix."""
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D (out, in) matrix, got shape {w.shape}")
    mask = w != 0
    nnz = int(np.count_nonzero(mask))
    shape = (int(w.shape[0]), int(w.shape[1]))
    if nnz == 0 or nnz == w.size:
        return Structure(shape, nnz)
    nm = _nm(mask, nnz)
    block, fill = _block(mask, nnz)
    return Structure(shape, nnz, nm, block, fill)

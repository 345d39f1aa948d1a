"""Sparse weight layouts and their matmul kernel: y = x @ W.T, x (batch, in), W (out, in).

Each layout is built once from the dense matrix and carries everything its kernel needs; the
kernels are pure functions `kernel(x, layout) -> y` with x already in the layout's dtype.

* Dense: W.T stored contiguous, one BLAS call.
* Blocked ELLPACK (Kincaid et al., ITPACK; the sliced variant after Monakov et al. 2010), used
  for every sparse kind. W is cut into strips of bh rows; a strip keeps its non-zero bh x bw
  blocks as K slots (a slot is one block and the index of its block column). Then

      g = gather(x.T blocks, cols)          (R, K*bw, batch)   one row gather per slot
      y[strips] = matmul(values, g)         (R, bh, batch)     values: (R, bh, K*bw)

  The gather reads whole rows of x.T (all of the batch at once), so its cost barely grows with
  the batch, and each gathered x block is shared by the bh rows of the strip: that is why blocks
  beat single values per stored weight, and why this beats CSR with a gather, a multiply and
  add.reduceat (measured 1.4x at batch 1, 3.2x at batch 8 on 90 %-sparse 1024x1024). Strips hold
  different numbers of blocks; padding all of them to the fullest would make one dense row cost
  a dense matrix, so strips are sorted by block count and cut into slices, each padded only to its
  own fullest strip, a new slice starting where the padding it saves outweighs one more call.
  Unstructured sparsity is the case bh = bw = 1; N:M is one slice of exactly in*N/M slots per
  row. Padding slots hold zero values and point at column 0 (any in-range column does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .structure import block_mask

_TAKE_IS_FAST = int(np.__version__.split(".")[0]) >= 2
SLICE_OVERHEAD_SLOTS = 8000  # one more slice costs ~6 us of NumPy calls, the gather of ~8000 slots


@dataclass(frozen=True)
class Dense:
    wt: np.ndarray  # (in, out) contiguous: sgemm at batch 8 is ~20 % faster than on the W.T view

    @property
    def nbytes(self) -> int:
        return self.wt.nbytes


@dataclass(frozen=True)
class EllSlice:
    strips: Optional[np.ndarray]  # (R_s,) intp: the strips computed here; None: all, in order
    values: np.ndarray  # (R_s, bh, K_s*bw)
    cols: np.ndarray  # (R_s, K_s) intp: block column of each slot


@dataclass(frozen=True)
class Ell:
    out: int
    bh: int
    bw: int
    slices: Tuple[EllSlice, ...]

    @property
    def slots(self) -> int:
        return sum(s.cols.size for s in self.slices)

    @property
    def nbytes(self) -> int:
        return sum(s.values.nbytes + s.cols.nbytes + (0 if s.strips is None else s.strips.nbytes)
                   for s in self.slices)


def dense_layout(w: np.ndarray, dtype) -> Dense:
    return Dense(np.ascontiguousarray(w.T, dtype=dtype))


def _cuts(counts_desc: np.ndarray) -> list:
    """Slice boundaries over strips sorted by decreasing block count (see module docstring)."""
    counts = counts_desc.tolist()
    n = len(counts)
    cuts = [0]
    for j in range(1, n):
        if (n - j) * (counts[cuts[-1]] - counts[j]) > SLICE_OVERHEAD_SLOTS:
            cuts.append(j)
    return cuts + [n]


def _ell(out: int, bh: int, bw: int, br: np.ndarray, bc: np.ndarray, blocks: np.ndarray,
         n_strips: int, dtype) -> Ell:
    """br, bc: strip and block column of each stored block, sorted by (br, bc); blocks: (nb, bh, bw)."""
    counts = np.bincount(br, minlength=n_strips)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    cuts = _cuts(counts[order])
    # Strip -> (slice, row within the slice); block -> slot within its strip.
    slice_of = np.zeros(n_strips, np.intp)
    row_of = np.zeros(n_strips, np.intp)
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        slice_of[order[a:b]] = i
        row_of[order[a:b]] = np.arange(b - a)
    slot = np.arange(br.size) - (np.cumsum(counts) - counts)[br]
    by_slice = np.argsort(slice_of[br], kind="stable")
    bounds = np.searchsorted(slice_of[br][by_slice], np.arange(len(cuts)))
    slices = []
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        pick = by_slice[bounds[i]:bounds[i + 1]]
        k = int(counts[order[a]])
        rows, slots = row_of[br[pick]], slot[pick]
        cols = np.zeros((b - a, k), np.intp)
        vals = np.zeros((b - a, k, bh, bw), dtype)
        cols[rows, slots] = bc[pick]
        vals[rows, slots] = blocks[pick]
        packed = np.ascontiguousarray(vals.transpose(0, 2, 1, 3).reshape(b - a, bh, k * bw))
        strips = order[a:b].astype(np.intp)
        in_order = b - a == n_strips and bool(np.all(strips == np.arange(n_strips)))
        slices.append(EllSlice(None if in_order else strips, packed, cols))
    return Ell(out, bh, bw, tuple(slices))


def _nonzeros(w: np.ndarray):
    """Row, column and value of each non-zero in row-major order (flatnonzero: ~20x np.nonzero)."""
    flat = np.flatnonzero(w != 0)
    rows = flat // w.shape[1]
    return rows, flat - rows * w.shape[1], w.reshape(-1)[flat]


def csr_layout(w: np.ndarray, dtype) -> Ell:
    """Unstructured: 1x1 blocks, strips sliced by row length."""
    rows, cols, vals = _nonzeros(w)
    return _ell(w.shape[0], 1, 1, rows, cols, vals.reshape(-1, 1, 1), w.shape[0], dtype)


def block_layout(w: np.ndarray, bh: int, bw: int, dtype) -> Ell:
    out, cin = w.shape
    br, bc = np.nonzero(block_mask(w != 0, bh, bw))
    blocks = w.reshape(out // bh, bh, cin // bw, bw)[br, :, bc, :]  # (nb, bh, bw)
    return _ell(out, bh, bw, br, bc, blocks, out // bh, dtype)


def nm_layout(w: np.ndarray, n: int, m: int, dtype) -> Ell:
    """N:M as one 1x1-block slice with exactly N slots per group of M (unused slots hold zeros).

    The k-th non-zero of group g goes to slot g*N + k; unused slots point at the group's first
    column with value 0, so the gather stays inside the group.
    """
    out, cin = w.shape
    groups = cin // m
    rows, cols, vals = _nonzeros(w)
    key = rows * groups + cols // m  # non-decreasing: row-major order
    first = np.searchsorted(key, key, side="left")
    slot = (cols // m) * n + (np.arange(key.size) - first)
    idx = np.repeat(np.arange(groups, dtype=np.intp) * m, n)[None, :].repeat(out, axis=0)
    packed = np.zeros((out, groups * n), dtype)
    idx[rows, slot] = cols
    packed[rows, slot] = vals
    return Ell(out, 1, 1, (EllSlice(None, packed.reshape(out, 1, groups * n), idx),))


def dense_matmul(x: np.ndarray, layout: Dense) -> np.ndarray:
    return x @ layout.wt


def _gather(xt: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """xt[cols] along axis 0. NumPy 2 made `take` ~5x faster (0.65 ns per index here, for any
    row size up to 32 floats); before it, fancy indexing is ~3x faster than `take` for single
    values and `take` ~4x faster than fancy indexing for rows of 8 (measured on NumPy 1.23)."""
    if _TAKE_IS_FAST or xt.shape[1] * xt.shape[2] > 1:
        # mode="wrap" skips NumPy's per-index error path; the indices were built in range.
        return np.take(xt, cols, axis=0, mode="wrap")
    return xt.reshape(-1)[cols]


def ell_matmul(x: np.ndarray, layout: Ell) -> np.ndarray:
    batch = x.shape[0]
    bh, bw = layout.bh, layout.bw
    xt = np.ascontiguousarray(x.T).reshape(-1, bw, batch)  # (in/bw, bw, batch)
    y = np.zeros((layout.out // bh, bh, batch), x.dtype)
    for s in layout.slices:
        r_count, k = s.cols.shape
        g = _gather(xt, s.cols).reshape(r_count, k * bw, batch)
        if s.strips is None:
            np.matmul(s.values, g, out=y)
        else:
            y[s.strips] = np.matmul(s.values, g)
    return y.reshape(layout.out, batch).T

"""Sparse weight layouts and their matmul kernels: y = x @ W.T, x (batch, in), W (out, in).

Each layout is built once from the dense matrix and carries everything its kernel needs; each
kernel is a pure function `kernel(x, layout) -> y` with x already in the layout's dtype.

* Dense: W.T stored contiguous, one BLAS call.
* CSR (unstructured): values and column indices row by row, `starts` of the non-empty rows.
  y[:, rows] = add.reduceat(x[:, cols] * values, starts). One gather of shape (batch, nnz), one
  multiply, one segmented sum; empty rows are left out of `starts` (reduceat would otherwise
  return the element at a repeated index instead of 0) and stay 0.
* Blocked ELL (N:M and bh x bw blocks): the matrix is cut into R = out/bh row strips; strip r keeps
  K slots, each one bh x bw block and the index of its block column (strips with fewer blocks are
  padded with zero blocks pointing at column 0). y = matmul(V, gather(x)) over the R strips, where V
  is (R, bh, K*bw) and the gather is (R, K*bw, batch): one x block is gathered per slot and shared
  by the bh rows of the strip, which is why blocks are faster than CSR per stored value. N:M is
  the case bh = bw = 1, K = in*N/M with no padding beyond partly empty groups.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dense:
    wt: np.ndarray  # (in, out), contiguous

    @property
    def nbytes(self) -> int:
        return self.wt.nbytes


@dataclass(frozen=True)
class Csr:
    out: int
    values: np.ndarray  # (nnz,)
    cols: np.ndarray  # (nnz,) intp
    rows: np.ndarray  # (n_nonempty,) intp: the rows that hold a non-zero
    starts: np.ndarray  # (n_nonempty,) intp: where each of those rows begins in values

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.cols.nbytes + self.rows.nbytes + self.starts.nbytes


@dataclass(frozen=True)
class Ell:
    bh: int
    bw: int
    values: np.ndarray  # (R, bh, K*bw)
    cols: np.ndarray  # (R, K) intp: block column of each slot

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.cols.nbytes


def dense_layout(w: np.ndarray, dtype) -> Dense:
    return Dense(np.ascontiguousarray(w.T, dtype=dtype))


def csr_layout(w: np.ndarray, dtype) -> Csr:
    rows, cols = np.nonzero(w)
    counts = np.bincount(rows, minlength=w.shape[0])
    nonempty = np.flatnonzero(counts)
    starts = (np.cumsum(counts) - counts)[nonempty]
    return Csr(
        int(w.shape[0]),
        np.ascontiguousarray(w[rows, cols], dtype=dtype),
        cols.astype(np.intp),
        nonempty.astype(np.intp),
        starts.astype(np.intp),
    )


def _ell_from_blocks(values: np.ndarray, kept: np.ndarray, dtype) -> Ell:
    """values: (R, bh, C, bw) blocked view of W; kept: (R, C) which blocks to store."""
    r_count, bh, _, bw = values.shape
    br, bc = np.nonzero(kept)
    counts = np.bincount(br, minlength=r_count)
    k = max(int(counts.max(initial=0)), 1)
    slot = np.arange(br.size) - (np.cumsum(counts) - counts)[br]
    cols = np.zeros((r_count, k), np.intp)
    cols[br, slot] = bc
    blocks = np.zeros((r_count, k, bh, bw), dtype)
    blocks[br, slot] = values[br, :, bc, :]
    packed = np.ascontiguousarray(blocks.transpose(0, 2, 1, 3).reshape(r_count, bh, k * bw))
    return Ell(bh, bw, packed, cols)


def block_layout(w: np.ndarray, bh: int, bw: int, dtype) -> Ell:
    out, cin = w.shape
    view = w.reshape(out // bh, bh, cin // bw, bw)
    return _ell_from_blocks(view, (view != 0).any(axis=(1, 3)), dtype)


def nm_layout(w: np.ndarray, n: int, m: int, dtype) -> Ell:
    """N:M as 1x1-block ELL with exactly N slots per group of M (unused slots hold zeros)."""
    out, cin = w.shape
    groups = cin // m
    nz = (w != 0).reshape(out, groups, m)
    # Stable order of the non-zeros first, then the zeros, within each group: the first N positions
    # cover every non-zero because no group holds more than N.
    order = np.argsort(~nz, axis=2, kind="stable")[:, :, :n]
    cols = (order + (np.arange(groups) * m)[None, :, None]).reshape(out, groups * n)
    vals = np.take_along_axis(w, cols, axis=1).astype(dtype)
    return Ell(1, 1, np.ascontiguousarray(vals.reshape(out, 1, groups * n)), cols.astype(np.intp))


def dense_matmul(x: np.ndarray, layout: Dense) -> np.ndarray:
    return x @ layout.wt


def csr_matmul(x: np.ndarray, layout: Csr) -> np.ndarray:
    y = np.zeros((x.shape[0], layout.out), x.dtype)
    if layout.values.size:
        # mode="wrap" skips NumPy's per-index error path; the indices were built in range.
        g = np.take(x, layout.cols, axis=1, mode="wrap")
        g *= layout.values
        y[:, layout.rows] = np.add.reduceat(g, layout.starts, axis=1)
    return y


def ell_matmul(x: np.ndarray, layout: Ell) -> np.ndarray:
    batch = x.shape[0]
    r_count, bh, kbw = layout.values.shape
    xb = x.reshape(batch, -1, layout.bw)
    g = np.take(xb, layout.cols, axis=1, mode="wrap")  # (batch, R, K, bw)
    g = g.reshape(batch, r_count, kbw).transpose(1, 2, 0)  # (R, K*bw, batch)
    y = np.matmul(layout.values, g)  # (R, bh, batch)
    return y.reshape(r_count * bh, batch).T

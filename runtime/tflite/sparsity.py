"""TFLite sparse tensors: reading and checking the metadata, and densifying the stored values.

Format (schema.fbs `SparsityParameters`, after TACO): the tensor's dims, plus one extra dim per entry of
`block_map` (block dim k splits original dim block_map[k] into blocks of size
dim_metadata[rank + k].dense_size), are visited in `traversal_order`. Level i is DENSE (all
`dense_size` coordinates present) or SPARSE_CSR (for the p-th node of the previous level, the coordinates
array_indices[array_segments[p]:array_segments[p+1]]). The buffer holds one value per leaf, in order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import schema


@dataclass(frozen=True)
class DimMetadata:
    format: str  # "DENSE" or "SPARSE_CSR"
    dense_size: int
    array_segments: Optional[np.ndarray] = None
    array_indices: Optional[np.ndarray] = None


@dataclass(frozen=True)
class Sparsity:
    traversal_order: Tuple[int, ...]
    block_map: Tuple[int, ...]
    dim_metadata: Tuple[DimMetadata, ...]
    stored_values: int  # how many values the buffer must hold (leaves of the traversal)


def _index_vector(dm, type_field: int, field: int, name: str, what: str, buf):
    kind = dm.scalar(type_field, "u8", 0)
    if kind == 0:
        return None
    if kind >= len(schema.SPARSE_INDEX_VECTORS):
        raise buf.fail(f"{what}: sparsity {name} has unknown vector type {kind}")
    tbl = dm.table(field, name)
    arr = None if tbl is None else tbl.array(0, schema.SPARSE_INDEX_VECTORS[kind], "values")
    if arr is None:
        raise buf.fail(f"{what}: sparsity {name} is missing")
    return arr


def level_sizes(shape, traversal_order, block_map, block_sizes):
    """The coordinate range of each traversal level."""
    rank = len(shape)
    blocked = {d: block_sizes[k] for k, d in enumerate(block_map)}
    return [shape[t] // blocked.get(t, 1) if t < rank else block_sizes[t - rank] for t in traversal_order]


def read_sparsity(t, shape, what: str, buf, itemsize: int = 1) -> Optional[Sparsity]:
    """Decode and check a `SparsityParameters` table; the arithmetic only, nothing is allocated. A dense
    size out of all proportion to the file (over 64 times its size and 256 MiB) is refused, so that
    densifying cannot be made to allocate what the file does not justify."""
    if t is None:
        return None
    order, bmap = t.ints(0, "traversal_order"), t.ints(1, "block_map")
    rank = len(shape)
    if sorted(order) != list(range(rank + len(bmap))):
        raise buf.fail(f"{what}: sparsity traversal_order {order} is not a permutation of {rank + len(bmap)} dims")
    if any(not 0 <= d < rank for d in bmap) or len(set(bmap)) != len(bmap):
        raise buf.fail(f"{what}: sparsity block_map {bmap} does not name distinct dims of shape {shape}")
    dims = []
    for i, dm in enumerate(t.tables(2, "dim_metadata")):
        fmt = dm.scalar(0, "i8", 0)
        if fmt not in (0, 1):
            raise buf.fail(f"{what}: sparsity level {i} has unknown format {fmt}")
        seg = _index_vector(dm, 2, 3, "array_segments", what, buf) if fmt else None
        idx = _index_vector(dm, 4, 5, "array_indices", what, buf) if fmt else None
        if fmt and (seg is None or idx is None):
            raise buf.fail(f"{what}: sparse level {i} lacks array_segments or array_indices")
        dims.append(DimMetadata(schema.DIMENSION_TYPES[fmt], dm.scalar(1, "i32", 0), seg, idx))
    if len(dims) != len(order):
        raise buf.fail(f"{what}: {len(dims)} sparsity dim_metadata entries for {len(order)} traversal levels")
    block_sizes = [dims[rank + k].dense_size for k in range(len(bmap))]
    for k, d in enumerate(bmap):
        if block_sizes[k] <= 0 or shape[d] % block_sizes[k]:
            raise buf.fail(f"{what}: block size {block_sizes[k]} does not divide dim {d} of shape {shape}")
    nodes = 1
    for i, (dm, size) in enumerate(zip(dims, level_sizes(shape, order, bmap, block_sizes))):
        if dm.format == "DENSE":
            if dm.dense_size != size:
                raise buf.fail(f"{what}: sparsity level {i} is dense with size {dm.dense_size}, expected {size}")
            nodes *= size
            continue
        seg, idx = dm.array_segments, dm.array_indices
        if len(seg) != nodes + 1 or seg[0] != 0 or np.any(np.diff(seg.astype(np.int64)) < 0) or seg[-1] != len(idx):
            raise buf.fail(
                f"{what}: sparsity level {i} array_segments must rise from 0 to {len(idx)} over {nodes + 1} entries"
            )
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= size):
            raise buf.fail(f"{what}: sparsity level {i} has array_indices outside [0, {size})")
        nodes = int(seg[-1])
    dense_bytes = math.prod(shape) * itemsize
    if dense_bytes > max(64 * buf.size, 1 << 28):
        raise buf.fail(f"{what}: a sparse tensor of shape {shape} would densify to {dense_bytes} bytes, "
                       f"implausible for a {buf.size}-byte file")
    return Sparsity(order, bmap, tuple(dims), nodes)


def densify(values: np.ndarray, shape, sp: Sparsity) -> np.ndarray:
    """Scatter the stored values into a dense array of `shape` (zeros elsewhere), vectorized per level."""
    rank = len(shape)
    block_sizes = [sp.dim_metadata[rank + k].dense_size for k in range(len(sp.block_map))]
    coords = []
    nodes = 1
    for dm in sp.dim_metadata:
        if dm.format == "DENSE":
            coords = [np.repeat(c, dm.dense_size) for c in coords]
            coords.append(np.tile(np.arange(dm.dense_size, dtype=np.int64), nodes))
            nodes *= dm.dense_size
        else:
            counts = np.diff(dm.array_segments.astype(np.int64))
            coords = [np.repeat(c, counts) for c in coords]
            coords.append(dm.array_indices.astype(np.int64))
            nodes = len(dm.array_indices)
    blocked = {d: block_sizes[k] for k, d in enumerate(sp.block_map)}
    orig = [np.zeros(nodes, np.int64) for _ in range(rank)]
    for level, t in enumerate(sp.traversal_order):
        if t < rank:
            orig[t] += coords[level] * blocked.get(t, 1)
        else:
            orig[sp.block_map[t - rank]] += coords[level]
    out = np.zeros(math.prod(shape), values.dtype)
    if nodes:
        out[np.ravel_multi_index(orig, shape)] = values
    return out.reshape(shape)

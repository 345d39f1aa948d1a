"""Weight matrices with a known zero pattern, for the sparse tests and the benchmark."""
from __future__ import annotations

import numpy as np


def values(rng: np.random.Generator, shape, integer: bool) -> np.ndarray:
    """Non-zero int8 values in [-127, 127], or standard normal float32."""
    if integer:
        v = rng.integers(1, 128, shape) * rng.choice(np.array([-1, 1]), shape)
        return v.astype(np.int8)
    v = rng.standard_normal(shape).astype(np.float32)
    v[v == 0] = 1.0
    return v


def unstructured(rng, shape, sparsity: float, integer: bool = False) -> np.ndarray:
    return values(rng, shape, integer) * (rng.random(shape) >= sparsity)


def n_of_m(rng, shape, n: int, m: int, integer: bool = False) -> np.ndarray:
    out, cin = shape
    keep = np.argsort(rng.random((out, cin // m, m)), axis=2)[:, :, :n]
    mask = np.zeros((out, cin // m, m), bool)
    np.put_along_axis(mask, keep, True, axis=2)
    return values(rng, shape, integer) * mask.reshape(shape)


def blocks(rng, shape, bh: int, bw: int, sparsity: float, integer: bool = False) -> np.ndarray:
    out, cin = shape
    kept = rng.random((out // bh, cin // bw)) >= sparsity
    mask = np.repeat(np.repeat(kept, bh, axis=0), bw, axis=1)
    return values(rng, shape, integer) * mask

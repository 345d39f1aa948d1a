"""One-dimensional k-means for weight sharing (Han et al. 2016, "Deep Compression", section 3).

Weights of a layer (or of one output channel) are replaced by the nearest of k centroids. The
initialisation matters more than the iterations (Deep Compression, Fig. 4): *linear* spaces the
centroids evenly over [min, max] and keeps the rare large weights, which matter most; *density*
places them at evenly spaced quantiles (dense where the weights are); *kmeans++* samples them
with probability proportional to the squared distance to the nearest chosen one (Arthur &
Vassilvitskii 2007). Lloyd's iterations then alternate nearest-centroid assignment (a binary
search between sorted centroids' midpoints, O(n log k)) and centroid = mean of its members.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

INITS = ("linear", "density", "kmeans++")


def init_centroids(values: np.ndarray, k: int, init: str, rng: np.random.Generator) -> np.ndarray:
    v = np.asarray(values, np.float64).ravel()
    if k == 1:
        return np.array([np.median(v)])
    if init == "linear":
        return np.linspace(v.min(), v.max(), k)
    if init == "density":
        return np.quantile(v, np.linspace(0.0, 1.0, k))
    if init == "kmeans++":
        chosen = [v[rng.integers(v.size)]]
        d2 = (v - chosen[0]) ** 2
        for _ in range(1, k):
            total = d2.sum()
            if total == 0:
                break
            chosen.append(v[rng.choice(v.size, p=d2 / total)])
            d2 = np.minimum(d2, (v - chosen[-1]) ** 2)
        c = np.array(chosen)
        return np.concatenate([c, np.full(k - c.size, c[-1])]) if c.size < k else c
    raise ValueError(f"unknown centroid initialisation {init!r}; known: {INITS}")


def assign(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for every value (centroids need not be sorted)."""
    order = np.argsort(centroids, kind="stable")
    s = centroids[order]
    mid = (s[1:] + s[:-1]) / 2.0
    return order[np.searchsorted(mid, np.asarray(values, np.float64).ravel(), side="left")]


def kmeans_1d(values: np.ndarray, k: int, init: str = "linear", iterations: int = 30,
              seed: int = 0, pinned: Tuple[float, ...] = ()) -> Tuple[np.ndarray, np.ndarray]:
    """(centroids (k,), assignment like values.ravel()) of k-means on the scalars of `values`.

    `pinned` centroids come first and never move (the others are initialised and iterated as
    usual). A centroid that loses all members keeps its place (it costs nothing and k stays an
    upper bound on the distinct values).
    """
    if k < 2:
        raise ValueError(f"k-means needs at least 2 clusters, got {k}")
    if len(pinned) > k:
        raise ValueError(f"{len(pinned)} pinned centroids do not fit in {k} clusters")
    v = np.asarray(values, np.float64).ravel()
    fixed = np.asarray(pinned, np.float64)
    free = k - fixed.size
    c = np.concatenate([fixed, init_centroids(v, free, init, np.random.default_rng(seed))]) if free else fixed
    idx = assign(v, c)
    movable = np.arange(k) >= fixed.size
    for _ in range(iterations):
        sums = np.bincount(idx, weights=v, minlength=k)
        counts = np.bincount(idx, minlength=k)
        new = np.where((counts > 0) & movable, sums / np.maximum(counts, 1), c)
        new_idx = assign(v, new)
        c = new
        if np.array_equal(new_idx, idx):
            break
        idx = new_idx
    return c, idx

"""Exact integer products in floating point: which dtype keeps y = x @ W.T bit-exact.

An int8 kernel needs sum_j w_ij * (q_j - zp), accumulated in int32 (TFLite) without error. A float
type with a p-bit significand represents every integer of magnitude <= 2^p exactly (float32:
p = 24, float64: p = 53). If every |x_j| <= X and S = max_i sum_j |w_ij|, then every product and
every partial sum of any subset, in any order (BLAS blocking, FMA, pairwise or sequential
reduceat) is an integer of magnitude <= X * S. So when X * S <= 2^p no operation ever rounds and
the float result equals the integer one exactly (Higham, "Accuracy and Stability of Numerical
Algorithms", 2nd ed., sec. 2.1 and 3.1: rounding only happens to values that are not
representable). Pruning shrinks S, so a 90 %-sparse int8 layer usually qualifies for float32
where its dense original needed float64.

Beyond 2^53 the kernels run in int64, which NumPy computes exactly (and slowly: no BLAS).
"""
from __future__ import annotations

import numpy as np

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53


def row_abs_sum_max(w: np.ndarray) -> int:
    """S = max_i sum_j |w_ij|, computed in int64 (exact for any int8..int32 weights)."""
    if w.size == 0:
        return 0
    wide = np.int16 if w.dtype.itemsize == 1 else np.int64  # abs(-128) does not fit int8
    return int(np.abs(w.astype(wide)).sum(axis=1, dtype=np.int64).max())


def exact_dtype(w: np.ndarray, x_abs_max: int) -> np.dtype:
    """The cheapest dtype in which x @ W.T is exact for integer x with |x| <= x_abs_max."""
    bound = row_abs_sum_max(w) * int(x_abs_max)
    if bound <= FLOAT32_EXACT:
        return np.dtype(np.float32)
    if bound <= FLOAT64_EXACT:
        return np.dtype(np.float64)
    return np.dtype(np.int64)

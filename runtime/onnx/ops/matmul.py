"""MatMul (numpy.matmul semantics) and Gemm: Y = alpha * A' B' + beta * C."""
from __future__ import annotations

import numpy as np


def MatMul(A, B):
    return np.matmul(A, B)


def gemm_output(y, dtype, C, alpha, beta):
    """Gemm from its product y = A' B': alpha * y + beta * C, in A's dtype."""
    t = dtype.type
    if alpha != 1.0:
        y = y * t(alpha)
    if C is not None:
        y = y + (C * t(beta) if beta != 1.0 else C)
    return y.astype(dtype, copy=False)


def Gemm(A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    a = A.T if transA else A
    b = B.T if transB else B
    return gemm_output(np.matmul(a, b), A.dtype, C, alpha, beta)

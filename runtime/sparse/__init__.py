"""Sparse weights, run sparse when that is faster: one plan per constant weight matrix, made at load.

Convention: W has shape (out, in), as TFLite FULLY_CONNECTED stores it, and the plan computes
y = x @ W.T for x of shape (batch, in), giving (batch, out). `plan.kind` is "dense", "csr"
(unstructured), "nm" (N:M along the input axis, e.g. 2:4) or "block" (bh x bw blocks), chosen
from W's measured density and zero pattern, and timed against the dense path on the device when
the layer is large enough to matter (see plan.py for the cost model and the thresholds).

How a kernel calls it (build once when the op is prepared, call per inference):

    from edgewise.runtime.sparse import plan_matmul

    # TFLite FULLY_CONNECTED, float32: W = weights (units, k)
    plan = plan_matmul(w, exact_int=False, name=f"{model}: FULLY_CONNECTED {node!r} weights {tname!r}")
    y = plan(x.reshape(-1, k))                       # float32 (batch, units); then + bias, activation

    # TFLite FULLY_CONNECTED, int8: exact int32-style accumulator, then the usual requantization
    plan = plan_matmul(w_int8, exact_int=True, x_abs_max=255, name=...)
    acc = plan(x.reshape(-1, k).astype(np.int32) - x_zp)   # int64, bit-identical to the int product
    acc += bias                                              # then requantize_output(acc, ...)

    # CONV_2D / ONNX Conv through im2col: patches (N*OH*OW, KH*KW*Cin) in the filter's order
    plan = plan_matmul(filt.reshape(cout, -1), exact_int=..., name=...)   # TFLite OHWI filter
    y = plan(patches).reshape(n, oh, ow, cout)
    # (ONNX OIHW: plan on filt.reshape(cout, cin*kh*kw) with patches ordered (cin, kh, kw).)

    # ONNX MatMul / Gemm with a constant B of shape (K, N): y = A @ B, so W = B.T
    plan = plan_matmul(np.ascontiguousarray(b.T), exact_int=False, name=...)   # transB=1: W = B
    y = plan(a.reshape(-1, k)).reshape(*a.shape[:-1], n)

Grouped and depthwise convolutions are not matmuls of one filter; they stay on their own kernels.
The plan keeps only the chosen layout (a sparse plan does not also hold W); batches above
`plan.max_batch` run dense from a copy rebuilt on first use. `plan.describe()` returns a PlanInfo
(kind, structure, density, bytes, dense and chosen times) for `edgewise inspect`.

Exact integers: the plan proves at load which float type cannot round (exact.py: float32 when
x_abs_max * max_i sum_j |w_ij| <= 2^24, float64 below 2^53, else int64) and checks |x| at run time.
"""
from __future__ import annotations

from .exact import exact_dtype
from .plan import KINDS, MatmulPlan, PlanInfo, plan_matmul
from .structure import Structure, analyze

__all__ = ["plan_matmul", "MatmulPlan", "PlanInfo", "Structure", "analyze", "exact_dtype", "KINDS"]

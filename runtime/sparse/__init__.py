"""Sparse weights, run sparse when that is faster: one plan per constant weight matrix, made at load.

Convention: W has shape (out, in), as TFLite FULLY_CONNECTED stores it, and the plan computes
y = x @ W.T for x of shape (batch, in), giving (batch, out). `plan.kind` is "dense", "csr"
(unstructured sparsity), "nm" (N:M along the input axis, e.g. 2:4) or "block" (bh x bw blocks),
chosen from W's measured density and zero pattern and timed against the dense path on the device
at the expected batch (plan.py holds the cost model and the measured thresholds);
EDGEWISE_SPARSE_TIMING=0 chooses by the cost model alone (switch.py). All sparse
kinds run one kernel, a row-sliced blocked ELLPACK (kernels.py); "csr" names the unstructured case.

How a kernel calls it: build the plan once when the op is prepared, call it per inference.

    from edgewise.runtime.sparse import plan_matmul

    # TFLite FULLY_CONNECTED, float32: w = weights (units, k)
    plan = plan_matmul(w, exact_int=False, batch_hint=rows,
                       name=f"{model}: FULLY_CONNECTED {node!r} weights {tensor!r}")
    y = plan(x.reshape(-1, k))                        # float32 (rows, units); then + bias, activation

    # TFLite FULLY_CONNECTED, int8: the exact accumulator, then the usual requantization
    plan = plan_matmul(w_int8, exact_int=True, x_abs_max=255, batch_hint=rows, name=...)
    acc = plan(x.reshape(-1, k).astype(np.int32) - x_zp)   # int64, equal to the integer product
    acc += bias                                              # then requantize_output(acc, ...)

    # CONV_2D through im2col, TFLite OHWI filter: patches (N*OH*OW, KH*KW*Cin) ordered (kh, kw, cin)
    plan = plan_matmul(filt.reshape(cout, -1), exact_int=..., batch_hint=n * oh * ow, name=...)
    y = plan(patches).reshape(n, oh, ow, cout)
    # ONNX Conv, OIHW filter: filt.reshape(cout, cin*kh*kw), patches ordered (cin, kh, kw).

    # ONNX MatMul / Gemm with a constant B (K, N): y = A @ B, so W = B.T (transB=1: W = B)
    plan = plan_matmul(np.ascontiguousarray(b.T), exact_int=False, batch_hint=rows, name=...)
    y = plan(a.reshape(-1, k)).reshape(*a.shape[:-1], n)
    # MatMulInteger / QLinearMatMul: exact_int=True with the zero points subtracted as above.

rows is the number of rows x will have (from the model's static shapes; 1 if unknown). Grouped
and depthwise convolutions are not one matmul and stay on their own kernels. A sparse plan holds
only its sparse layout, not W; batches above `plan.max_batch` run dense from a copy rebuilt on
first use. `plan.describe()` returns a PlanInfo (kind, structure, density, bytes, dense and chosen
times) for `edgewise inspect`.

Exact integers: the plan proves at load which type cannot round (exact.py: float32 when
x_abs_max * max_i sum_j |w_ij| <= 2^24, float64 up to 2^53, else int64) and checks |x| per call.
That bound is tighter than k * 255 * max|w|, so it also speeds up dense int8 layers.
"""
from __future__ import annotations

from .exact import exact_dtype
from .plan import KINDS, MatmulPlan, PlanInfo, plan_matmul
from .structure import Structure, analyze
from .switch import ENV_SWITCH, TIMING_SWITCH, sparse_enabled, timing_enabled

__all__ = ["plan_matmul", "MatmulPlan", "PlanInfo", "Structure", "analyze", "exact_dtype", "KINDS",
           "sparse_enabled", "ENV_SWITCH", "timing_enabled", "TIMING_SWITCH"]

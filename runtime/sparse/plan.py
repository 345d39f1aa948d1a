"""Choosing, per layer at load time, the fastest way to compute y = x @ W.T for a constant W.

`plan_matmul` measures W's density and zero pattern (`structure.analyze`), estimates the cost of
the dense path and of the sparse layouts the pattern allows with the cost model below, builds the
cheapest sparse one and, when the layer is large enough for the choice to matter, times it
against the dense path on this device at the expected batch (minimum over alternating runs, for
at most `time_budget_ms`). Sparse is chosen only if it is faster. As BLAS gains more from a larger
batch than the gathers do, the plan also records `max_batch`, extrapolated with the cost model:
larger batches run dense (from a copy rebuilt on first use).

Measured here (single thread, 2-core AMD EPYC VM with 32 MB L3, OpenBLAS 0.3.31, NumPy 2.4),
one 1024x1024 float32 layer, best of 300 runs, in us:

    pattern (density)        batch 1: dense  sparse     batch 8: dense  sparse
    unstructured 10 %                  76     120                  314     285
    unstructured  5 %                  76      73                  314     183
    2:4 (50 %)                         76    ~260                  314    ~1400
    4x4 blocks, 10 %                   81      39                  354     207
    8x8 blocks, 10 %                   73      28                  350     129
    16x1 blocks, 10 %                  80      23                  353      99
    1x4 blocks, 10 %                   76      67                  327     453

So unstructured sparsity pays off only from ~95 % at batch 1 and ~88 % at batch 8: its kernel
gathers one x value per stored weight and NumPy's gather costs ~0.6 ns each, ~8x a BLAS
multiply-add on a cache-resident matrix. Blocks share one gathered x block among bh rows and win
2-3.5x at 90 %; 2:4 (half of W) never beats dense. int8 layers gain more from pruning through
exact.py: their dense path needs float64 unless the weights are small or sparse enough for float32.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

from ..records import Record
from . import kernels
from .exact import exact_dtype
from .structure import Structure, analyze
from .switch import timing_enabled

KINDS = ("dense", "csr", "nm", "block")
# Cost model (ns), fitted to the measurements in the module docstring.
OVERHEAD_NS = 6000.0  # NumPy call overhead of one kernel (or one ELL slice)
DENSE_NS_PER_MAC_B1 = 0.075  # sgemv
DENSE_NS_PER_MAC = (0.15, 0.02)  # sgemm, per MAC: a + b * batch (OpenBLAS is slow at batch 2..4)
INT64_NS_PER_MAC = 1.0  # integer matmul has no BLAS
GATHER_NS_PER_SLOT = 0.62  # np.take(mode="wrap"), one row per slot
GATHER_NS_PER_VALUE = 0.05  # ... plus per value in the row (bw * batch)
MATMUL_NS_PER_MAC = 0.15  # stacked small matmuls (0.17 at batch 1, 0.135 at batch 8)
TIMING_MIN_NS = 20000.0  # below this estimated dense time, a wrong pick costs less than timing it
MAX_BATCH_PROBE = 4096
TIMING_MAX_ROWS = 256  # rows of x used to time a layer; larger batches are extrapolated
MAX_TIMING_REPS = 25  # the minimum over alternating runs of each path is compared ...
MIN_TIMING_REPS = 5  # ... after at least this many, whatever the time budget
CLEARLY_SLOWER = 2.0  # estimated sparse/dense ratio above which no sparse layout is built or timed


@dataclass(frozen=True)
class PlanInfo(Record):
    """What `edgewise inspect` reports for one planned weight matrix."""

    name: str
    kind: str
    structure: str
    shape: Tuple[int, int]
    density: float
    dtype: str
    nbytes: int
    dense_nbytes: int
    max_batch: Optional[int]  # larger batches run dense; None: no limit
    dense_us: float
    chosen_us: float
    measured: bool  # True: timed at load (at most TIMING_MAX_ROWS rows, scaled), False: cost model


def _dense_ns(shape, batch: int, dtype: np.dtype) -> float:
    macs = shape[0] * shape[1]
    if dtype == np.int64:
        return OVERHEAD_NS + INT64_NS_PER_MAC * macs * batch
    per = DENSE_NS_PER_MAC_B1 if batch == 1 else DENSE_NS_PER_MAC[0] + DENSE_NS_PER_MAC[1] * batch
    return OVERHEAD_NS + macs * per * (2.0 if dtype == np.float64 else 1.0)


def _ell_ns(slices: int, slots: float, bh: int, bw: int, batch: int) -> float:
    gather = slots * (GATHER_NS_PER_SLOT + GATHER_NS_PER_VALUE * bw * batch)
    return OVERHEAD_NS * slices + gather + MATMUL_NS_PER_MAC * slots * bh * bw * batch


def _layout_ns(layout, batch: int) -> float:
    if isinstance(layout, kernels.Ell):
        return _ell_ns(len(layout.slices), layout.slots, layout.bh, layout.bw, batch)
    return _dense_ns(layout.wt.shape[::-1], batch, layout.wt.dtype)


def _kernel(layout) -> Callable:
    return kernels.ell_matmul if isinstance(layout, kernels.Ell) else kernels.dense_matmul


def _densify(layout, shape, dtype) -> np.ndarray:
    if isinstance(layout, kernels.Dense):
        return layout.wt.T
    w = np.zeros(shape, dtype)
    bh, bw = layout.bh, layout.bw
    view = w.reshape(shape[0] // bh, bh, shape[1] // bw, bw)
    for sl in layout.slices:
        r_count, k = sl.cols.shape
        strips = np.arange(r_count) if sl.strips is None else sl.strips
        blocks = sl.values.reshape(r_count, bh, k, bw).transpose(0, 2, 1, 3).reshape(-1, bh, bw)
        # Padding slots hold zero blocks at column 0; adding (not assigning) keeps a real block there.
        np.add.at(view, (np.repeat(strips, k), slice(None), sl.cols.ravel(), slice(None)), blocks)
    return w


def _time_ns(fn: Callable) -> int:
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


class MatmulPlan:
    """y = plan(x) computes x @ W.T for x of shape (batch, in); W (out, in) was fixed at load.

    Float plans return W's float dtype (float32 for float32 weights). Exact-integer plans take
    integer-valued x (any int or float dtype, |x| <= x_abs_max) and return int64, bit-identical
    to the integer product.
    """

    def __init__(self, name: str, kind: str, structure: Structure, layout, dtype: np.dtype,
                 exact_int: bool, x_abs_max: int, max_batch: Optional[int],
                 dense_ns: float, chosen_ns: float, measured: bool):
        self.name = name
        self.kind = kind
        self.structure = structure
        self.dtype = dtype
        self.exact_int = exact_int
        self.x_abs_max = x_abs_max
        self.max_batch = max_batch
        self._layout = layout
        self._kernel = _kernel(layout)
        self._dense = layout if kind == "dense" else None  # a sparse plan builds it on first need
        self._dense_ns = dense_ns
        self._chosen_ns = chosen_ns
        self._measured = measured

    @property
    def shape(self) -> Tuple[int, int]:
        return self.structure.shape

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out, cin = self.shape
        if x.ndim != 2 or x.shape[1] != cin:
            raise ValueError(f"{self.name}: input of shape {x.shape} does not fit weights {self.shape}; "
                             f"expected (batch, {cin})")
        if self.exact_int and x.size:
            x_abs = max(-float(x.min()), float(x.max()))  # np.abs would wrap int8 -128
            if x_abs > self.x_abs_max:
                raise ValueError(f"{self.name}: input magnitude {x_abs:g} exceeds the bound "
                                 f"{self.x_abs_max} the exact plan was made for")
        xc = np.ascontiguousarray(x, dtype=self.dtype)
        if self.max_batch is not None and x.shape[0] > self.max_batch:
            if self._dense is None:
                self._dense = kernels.dense_layout(_densify(self._layout, self.shape, self.dtype), self.dtype)
            y = kernels.dense_matmul(xc, self._dense)
        else:
            y = self._kernel(xc, self._layout)
        return y.astype(np.int64) if self.exact_int else y

    @property
    def nbytes(self) -> int:
        return self._layout.nbytes

    def describe(self) -> PlanInfo:
        out, cin = self.shape
        return PlanInfo(
            name=self.name,
            kind=self.kind,
            structure=self.structure.label,
            shape=self.shape,
            density=self.structure.density,
            dtype=str(self.dtype),
            nbytes=self.nbytes,
            dense_nbytes=out * cin * self.dtype.itemsize,
            max_batch=self.max_batch,
            dense_us=self._dense_ns / 1e3,
            chosen_us=self._chosen_ns / 1e3,
            measured=self._measured,
        )

    def __repr__(self) -> str:
        i = self.describe()
        return (f"MatmulPlan({i.name!r}, kind={i.kind}, structure={i.structure}, shape={i.shape}, "
                f"density={i.density:.3f}, dtype={i.dtype})")


def _candidates(w: np.ndarray, s: Structure, dtype) -> dict:
    out = {}
    if s.nnz > 0:
        out["csr"] = lambda: kernels.csr_layout(w, dtype)
    if s.nm is not None:
        out["nm"] = lambda: kernels.nm_layout(w, s.nm[0], s.nm[1], dtype)
    if s.block is not None:
        out["block"] = lambda: kernels.block_layout(w, s.block[0], s.block[1], dtype)
    return out


def _estimate_ns(kind: str, s: Structure, batch: int) -> float:
    """Cost of a layout before building it (ELL slicing keeps padding near 1.1x)."""
    out, cin = s.shape
    if kind == "csr":
        return _ell_ns(2, 1.1 * s.nnz, 1, 1, batch)
    if kind == "nm":
        return _ell_ns(1, out * cin * s.nm[0] / s.nm[1], 1, 1, batch)
    bh, bw = s.block
    return _ell_ns(2, 1.1 * s.nnz / s.block_fill / (bh * bw), bh, bw, batch)


def _max_batch(s: Structure, layout, dtype, hint: int, correction: float) -> Optional[int]:
    """Largest power-of-two multiple of `hint` at which sparse is still estimated faster, or None
    if it stays faster up to MAX_BATCH_PROBE; `correction` scales the estimate to the timing."""
    best, b = hint, hint
    while b <= MAX_BATCH_PROBE:
        if _layout_ns(layout, b) * correction >= _dense_ns(s.shape, b, dtype):
            return best
        best, b = b, 2 * b
    return None


def plan_matmul(w: np.ndarray, *, exact_int: bool, x_abs_max: int = 255, kind: str = "auto",
                name: str = "weights", batch_hint: int = 1, calibrate: Optional[bool] = None,
                time_budget_ms: float = 5.0) -> MatmulPlan:
    """Plan y = x @ W.T for a constant W of shape (out, in), e.g. TFLite FULLY_CONNECTED weights.

    exact_int: W is an integer array and x holds integers with |x| <= x_abs_max (for int8 models,
        x - input_zero_point, so 255); the plan's result is the exact integer product, int64.
        Otherwise W is float (or cast to float32) and so is the result.
    kind: "auto" to choose by measurement, or one of "dense", "csr", "nm", "block" to force a
        layout (tests, benchmarks); forcing "nm" or "block" needs W to have that pattern.
    name: used in error messages and describe(): say the model, op and tensor.
    batch_hint: the number of rows x will have (FULLY_CONNECTED: the batch; im2col conv:
        N*OH*OW), known from the model's static shapes: the choice is timed at that batch.
    calibrate: False chooses by the cost model alone (deterministic, no timing); None reads
        EDGEWISE_SPARSE_TIMING (switch.timing_enabled), on unless it says 0.
    """
    calibrate = timing_enabled(calibrate)
    if kind not in KINDS + ("auto",):
        raise ValueError(f"{name}: unknown plan kind {kind!r}; expected one of {('auto',) + KINDS}")
    if w.ndim != 2:
        raise ValueError(f"{name}: weights must be a 2-D (out, in) matrix, got shape {w.shape}")
    if exact_int:
        if w.dtype.kind not in "iu":
            raise ValueError(f"{name}: exact_int needs integer weights, got {w.dtype}")
        dtype = exact_dtype(w, x_abs_max)
    else:
        dtype = np.dtype(w.dtype if w.dtype in (np.float32, np.float64) else np.float32)
    s = analyze(w)
    builders = _candidates(w, s, dtype)
    dense_est = _dense_ns(s.shape, batch_hint, dtype)

    def make(kind_, layout, mb=None, dense_ns=dense_est, chosen_ns=None, measured=False):
        chosen = dense_ns if chosen_ns is None else chosen_ns
        return MatmulPlan(name, kind_, s, layout, dtype, exact_int, x_abs_max, mb, dense_ns, chosen, measured)

    if kind == "dense":
        return make("dense", kernels.dense_layout(w, dtype))
    if kind != "auto":
        if kind not in builders:
            raise ValueError(f"{name}: cannot force kind {kind!r}: weights are {s.label} "
                             f"(density {s.density:.3f})")
        layout = builders[kind]()
        return make(kind, layout, chosen_ns=_layout_ns(layout, batch_hint))
    if not builders:
        return make("dense", kernels.dense_layout(w, dtype))
    best = min(builders, key=lambda k: _estimate_ns(k, s, batch_hint))
    if _estimate_ns(best, s, batch_hint) > CLEARLY_SLOWER * dense_est:
        return make("dense", kernels.dense_layout(w, dtype))
    layout = builders[best]()
    sparse_est = _layout_ns(layout, batch_hint)
    if not calibrate or dense_est < TIMING_MIN_NS:
        if sparse_est >= dense_est:
            return make("dense", kernels.dense_layout(w, dtype))
        return make(best, layout, _max_batch(s, layout, dtype, batch_hint, 1.0), chosen_ns=sparse_est)

    # Time at most TIMING_MAX_ROWS rows (an im2col conv can have thousands) and scale the cost
    # model by what the timing found.
    t_rows = min(batch_hint, TIMING_MAX_ROWS)
    dense = kernels.dense_layout(w, dtype)
    x = np.random.default_rng(0).integers(-8, 9, (t_rows, s.shape[1])).astype(dtype)
    sparse_fn = _kernel(layout)
    sparse_fn(x, layout), kernels.dense_matmul(x, dense)  # first calls: page faults, allocator
    t_s = t_d = float("inf")
    start = time.perf_counter_ns()
    for rep in range(MAX_TIMING_REPS):
        t_s = min(t_s, _time_ns(lambda: sparse_fn(x, layout)))
        t_d = min(t_d, _time_ns(lambda: kernels.dense_matmul(x, dense)))
        if rep + 1 >= MIN_TIMING_REPS and time.perf_counter_ns() - start > time_budget_ms * 1e6:
            break
    correction = (t_s / t_d) / (_layout_ns(layout, t_rows) / _dense_ns(s.shape, t_rows, dtype))
    ratio = sparse_est * correction / dense_est  # sparse / dense at batch_hint
    dense_ns = t_d * dense_est / _dense_ns(s.shape, t_rows, dtype)
    if ratio >= 1.0:
        return make("dense", dense, dense_ns=dense_ns, measured=True)
    mb = _max_batch(s, layout, dtype, batch_hint, correction)
    return make(best, layout, mb, dense_ns=dense_ns, chosen_ns=ratio * dense_ns, measured=True)

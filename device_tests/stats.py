"""Latency statistics over nanosecond samples, reported in milliseconds, with bootstrap intervals.

Percentiles are nearest-rank (MLPerf loadgen's definition). Each of mean, p50, p90 and p99 gets a
95% percentile-bootstrap confidence interval (Efron & Tibshirani, "An Introduction to the
Bootstrap", 1993, ch. 13): resample the latencies with replacement, recompute the statistic, take
the 2.5th and 97.5th percentiles of the recomputed values. A percentile needs enough samples to
exist at all: p90 wants 10 and p99 100 (`too_few_for`). Past BOOTSTRAP_MAX_N samples the
bootstrap would cost seconds, and its large-sample limit is used instead: the distribution-free
order-statistic interval for a quantile (ranks n*p -+ z*sqrt(n*p*(1-p)); Hahn & Meeker,
"Statistical Intervals", 1991, sec. 5.2) and mean -+ z*std/sqrt(n).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from edgewise.runtime.records import Record

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_MAX_N = 5000
CONFIDENCE = 0.95
Z = 1.959964  # the standard normal's 97.5th percentile
#: Fewest samples for which a percentile is more than the largest sample: ceil(100 / (100 - p)).
MIN_SAMPLES = {"p50": 2, "p90": 10, "p99": 100}


def percentile(sorted_ns: Sequence[int], p: float) -> int:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it
    (the definition MLPerf loadgen reports; no interpolation between samples)."""
    if not sorted_ns:
        raise ValueError("no samples")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1]


Interval = Optional[Tuple[float, float]]


@dataclass(frozen=True)
class LatencyStats(Record):
    """n samples; mean, population std, min, max and nearest-rank p50/p90/p99 in milliseconds
    (None without samples), and 95% bootstrap intervals of mean, p50, p90, p99."""

    n: int
    mean: Optional[float] = None
    std: Optional[float] = None
    min: Optional[float] = None
    max: Optional[float] = None
    p50: Optional[float] = None
    p90: Optional[float] = None
    p99: Optional[float] = None
    mean_ci: Interval = None
    p50_ci: Interval = None
    p90_ci: Interval = None
    p99_ci: Interval = None

    @classmethod
    def from_ns(cls, latencies_ns: Sequence[int], seed: int = 0) -> "LatencyStats":
        if len(latencies_ns) == 0:
            return cls(0)
        s = sorted(int(x) for x in latencies_ns)
        n = len(s)
        mean = sum(s) / n
        var = sum((x - mean) ** 2 for x in s) / n
        ms = 1e-6
        cis = bootstrap_intervals(s, seed)
        return cls(
            n=n,
            mean=mean * ms,
            std=math.sqrt(var) * ms,
            min=s[0] * ms,
            max=s[-1] * ms,
            p50=percentile(s, 50) * ms,
            p90=percentile(s, 90) * ms,
            p99=percentile(s, 99) * ms,
            **cis,
        )

    def too_few_for(self) -> Tuple[str, ...]:
        """The reported percentiles these samples are too few to support."""
        return tuple(k for k, need in MIN_SAMPLES.items() if self.n < need)


def bootstrap_intervals(sorted_ns: Sequence[int], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """{mean_ci, p50_ci, p90_ci, p99_ci} in ms. Resamples are drawn in chunks of at most ~4M
    indices, so memory stays bounded whatever the number of samples."""
    import numpy as np

    x = np.asarray(sorted_ns, dtype=np.float64) * 1e-6
    n = len(x)
    if n < 2:
        return {}
    if n > BOOTSTRAP_MAX_N:
        return _large_sample_intervals(x)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, (4 << 20) // n))
    stats = {"mean": [], "p50": [], "p90": [], "p99": []}
    done = 0
    while done < resamples:
        k = min(chunk, resamples - done)
        ranks = [max(1, math.ceil(p / 100.0 * n)) - 1 for p in (50, 90, 99)]
        sample = np.partition(x[rng.integers(0, n, size=(k, n))], ranks, axis=1)
        stats["mean"].append(sample.mean(axis=1))
        for p, r in zip((50, 90, 99), ranks):
            stats[f"p{p}"].append(sample[:, r])
        done += k
    lo, hi = 100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2
    out = {}
    for name, parts in stats.items():
        v = np.concatenate(parts)
        out[f"{name}_ci"] = (float(np.percentile(v, lo)), float(np.percentile(v, hi)))
    return out


def _large_sample_intervals(sorted_ms) -> dict:
    n = len(sorted_ms)
    mean = float(sorted_ms.mean())
    half = Z * float(sorted_ms.std(ddof=1)) / math.sqrt(n)
    out = {"mean_ci": (mean - half, mean + half)}
    for p in (50, 90, 99):
        q = p / 100.0
        spread = Z * math.sqrt(n * q * (1 - q))
        lo = min(n - 1, max(0, math.floor(n * q - spread) - 1))
        hi = min(n - 1, max(0, math.ceil(n * q + spread) - 1))
        out[f"p{p}_ci"] = (float(sorted_ms[lo]), float(sorted_ms[hi]))
    return out


def drift_noise(latencies_ns: Sequence[int], blocks: int = 10) -> Optional[float]:
    """Relative 95% half-width of the median from its spread across `blocks` contiguous stretches
    of the run (batch means, as in simulation output analysis: Law, "Simulation Modeling and
    Analysis", ch. 9). Resampling single latencies treats them as independent and misses slow
    drift (another process, a clock change) that moves a whole stretch; this sees it. None with
    fewer than 20 samples per block."""
    n = len(latencies_ns)
    if n < 20 * blocks:
        return None
    size = n // blocks
    medians = []
    for b in range(blocks):
        part = sorted(latencies_ns[b * size:(b + 1) * size])
        medians.append(part[len(part) // 2])
    overall = sorted(latencies_ns)[n // 2]
    mean = sum(medians) / blocks
    sd = math.sqrt(sum((m - mean) ** 2 for m in medians) / (blocks - 1))
    t_975 = 2.262  # Student's t, 9 degrees of freedom
    return t_975 * sd / math.sqrt(blocks) / overall if overall else None

"""Latency statistics over nanosecond samples, reported in milliseconds."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence


def percentile(sorted_ns: Sequence[int], p: float) -> int:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it
    (the definition MLPerf loadgen reports; no interpolation between samples)."""
    if not sorted_ns:
        raise ValueError("no samples")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1]


@dataclass(frozen=True)
class LatencyStats:
    """n samples; mean, population std, min, max and nearest-rank p50/p90/p99, in milliseconds."""

    n: int
    mean: float
    std: float
    min: float
    max: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def from_ns(cls, latencies_ns: Sequence[int]) -> "LatencyStats":
        if not latencies_ns:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan, nan)
        s = sorted(int(x) for x in latencies_ns)
        n = len(s)
        mean = sum(s) / n
        var = sum((x - mean) ** 2 for x in s) / n
        ms = 1e-6
        return cls(
            n=n,
            mean=mean * ms,
            std=math.sqrt(var) * ms,
            min=s[0] * ms,
            max=s[-1] * ms,
            p50=percentile(s, 50) * ms,
            p90=percentile(s, 90) * ms,
            p99=percentile(s, 99) * ms,
        )

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "LatencyStats":
        nan = float("nan")
        return cls(int(d["n"]), *(nan if d[k] is None else float(d[k]) for k in
                                   ("mean", "std", "min", "max", "p50", "p90", "p99")))

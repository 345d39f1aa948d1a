"""Compare two benchmark results: ratios, whether the change exceeds the measured noise, and
whether the two runs are like-for-like.

A change is significant only when the two runs' 95% confidence intervals of the median do not
overlap (each from the run's own samples, `stats.bootstrap_intervals`) AND the relative change
exceeds the runs' combined drift noise (`stats.drift_noise`: how much the median moves between
stretches of one run): two runs of the same model on the same device differ by their noise
alone, and that is never called a regression.
Like-for-like means the same device (by fingerprint: board, CPU, cores, kernel, Python, NumPy,
not only by address), backend and its library and options, threads, and input settings; results
of two different models are an A/B comparison, of the same model (by hash) a regression check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from edgewise.runtime.records import Record

from .bench import BenchResult
from .stats import drift_noise

FINGERPRINT = ("board", "machine", "cpu_model", "cpu_cores", "kernel", "os", "python_version", "numpy_version")
LIKE_SETTINGS = ("backend", "num_threads", "seed", "sample_count")


def fingerprint(result: BenchResult) -> Dict[str, object]:
    f = result.device_facts
    return {k: getattr(f, k) for k in FINGERPRINT}


def _ratio(new: Optional[float], old: Optional[float]) -> Optional[float]:
    if new is None or old is None or old == 0:
        return None
    return new / old


@dataclass(frozen=True)
class Comparison(Record):
    """candidate / baseline for each statistic: below 1.0 the candidate is faster (or smaller).

    `verdict`: "slower" or "faster" when the p50 intervals do not overlap, "within noise"
    otherwise, "not comparable" when the runs are not like-for-like (reasons in `notes`).
    `noise` is the relative change that noise alone can make: the two runs' noises (each the
    larger of its p50 interval's half-width and its drift noise, relative) added in quadrature.
    """

    baseline: str
    candidate: str
    p50_ratio: Optional[float]
    p90_ratio: Optional[float]
    p99_ratio: Optional[float]
    mean_ratio: Optional[float]
    peak_rss_ratio: Optional[float]
    energy_ratio: Optional[float]
    noise: Optional[float]
    verdict: str
    same_model: bool
    comparable: bool
    notes: Tuple[str, ...] = ()

    @property
    def regression(self) -> bool:
        return self.verdict == "slower" and self.same_model

    def __str__(self) -> str:
        def fmt(r):
            return "n/a" if r is None else f"{r:.3f}x"

        kind = "regression check (same model)" if self.same_model else "A/B of two models"
        noise = "n/a" if self.noise is None else f"+-{100 * self.noise:.1f}%"
        text = (f"{self.candidate} vs {self.baseline} [{kind}]: p50 {fmt(self.p50_ratio)} (noise {noise}), "
                f"p90 {fmt(self.p90_ratio)}, p99 {fmt(self.p99_ratio)}, mean {fmt(self.mean_ratio)}, "
                f"peak RSS {fmt(self.peak_rss_ratio)}, energy {fmt(self.energy_ratio)}: {self.verdict}")
        if self.regression:
            text += " -- REGRESSION"
        return text + ("" if not self.notes else " (" + "; ".join(self.notes) + ")")


def like_for_like(baseline: BenchResult, candidate: BenchResult) -> Tuple[str, ...]:
    """Why the two runs are not like-for-like (empty when they are)."""
    notes = []
    fa, fb = fingerprint(baseline), fingerprint(candidate)
    diff = [k for k in FINGERPRINT if fa[k] != fb[k]]
    if diff:
        notes.append("devices differ: " + ", ".join(f"{k} {fa[k]!r} vs {fb[k]!r}" for k in diff))
    for key in ("name", "library", "options"):
        a, b = baseline.backend.get(key), candidate.backend.get(key)
        if key == "options":
            a, b = list(a or []), list(b or [])
        if a != b:
            notes.append(f"backend {key} differs ({a} vs {b})")
    for key in LIKE_SETTINGS:
        a, b = getattr(baseline.settings, key), getattr(candidate.settings, key)
        if a != b:
            notes.append(f"settings differ: {key} {a!r} vs {b!r}")
    for r, label in ((baseline, "baseline"), (candidate, "candidate")):
        if r.partial:
            notes.append(f"{label} is partial: {r.partial_reason}")
    return tuple(notes)


def _noise(r: BenchResult) -> Optional[float]:
    """The larger of the p50 interval's relative half-width and the run's drift noise."""
    ci, p50 = r.latency_ms.p50_ci, r.latency_ms.p50
    if ci is None or not p50:
        return None
    return max((ci[1] - ci[0]) / 2 / p50, drift_noise(r.latencies_ns) or 0.0)


def compare(baseline: BenchResult, candidate: BenchResult, baseline_name: str = "baseline",
            candidate_name: str = "candidate") -> Comparison:
    notes = like_for_like(baseline, candidate)
    b, c = baseline.latency_ms, candidate.latency_ms
    noises = [x for x in (_noise(baseline), _noise(candidate)) if x is not None]
    combined = math.sqrt(sum(x * x for x in noises)) if len(noises) == 2 else None
    change = _ratio(c.p50, b.p50)
    if notes:
        verdict = "not comparable"
    elif b.p50_ci is None or c.p50_ci is None or combined is None or change is None:
        verdict = "within noise"  # too few samples to tell a change from noise
    elif c.p50_ci[0] > b.p50_ci[1] and change - 1 > combined:
        verdict = "slower"
    elif c.p50_ci[1] < b.p50_ci[0] and 1 - change > combined:
        verdict = "faster"
    else:
        verdict = "within noise"
    eb = baseline.energy.energy_mj_per_inference if baseline.energy else None
    ec = candidate.energy.energy_mj_per_inference if candidate.energy else None
    return Comparison(
        baseline=baseline_name,
        candidate=candidate_name,
        p50_ratio=_ratio(c.p50, b.p50),
        p90_ratio=_ratio(c.p90, b.p90),
        p99_ratio=_ratio(c.p99, b.p99),
        mean_ratio=_ratio(c.mean, b.mean),
        peak_rss_ratio=_ratio(candidate.peak_rss_bytes, baseline.peak_rss_bytes),
        energy_ratio=_ratio(ec, eb),
        noise=combined,
        verdict=verdict,
        same_model=baseline.model_sha256 == candidate.model_sha256,
        comparable=not notes,
        notes=notes,
    )

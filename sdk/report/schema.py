"""The report of one `optimize()` run: frozen dataclasses, written as report.json.

The JSON keeps a stable, flat core that tools can rely on (`baseline.size_bytes/accuracy`,
and per artifact `path, format, size_bytes, accuracy, sparsity, latency_ms.{p50,p90,p99},
backend`), with the detail beside it: accuracy per backend, the verification figures, the
per-tensor sparsity, every pipeline step with its accuracy and duration, and the benchmark's
own record of the device.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from ..compress.prune import PruneConfig
from ..compress.sparsity import SparsitySummary
from ..converters.result import Verification
from ..evaluate import BackendAccuracy

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Latency:
    """Latency percentiles in milliseconds over `n` timed runs (after warm-up)."""

    p50: float
    p90: float
    p99: float
    mean: Optional[float] = None
    std: Optional[float] = None
    n: int = 0

    def to_dict(self) -> dict:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99, "mean": self.mean, "std": self.std, "n": self.n}

    @classmethod
    def from_dict(cls, d: dict) -> "Latency":
        return cls(float(d["p50"]), float(d["p90"]), float(d["p99"]), d.get("mean"), d.get("std"), int(d.get("n", 0)))


@dataclass(frozen=True)
class Benchmark:
    """One benchmark of an artifact on a device: the figures, or the error that prevented them.

    `record` is the harness's own `to_dict()` (device facts, settings, backend details), kept
    verbatim so the report never drops something the harness measured.
    """

    device: str
    backend: str = ""
    backend_reason: str = ""
    latency_ms: Optional[Latency] = None
    peak_rss_bytes: Optional[int] = None
    error: str = ""
    record: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"device": self.device, "backend": self.backend, "backend_reason": self.backend_reason,
                "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None,
                "peak_rss_bytes": self.peak_rss_bytes, "error": self.error, "record": self.record}

    @classmethod
    def from_dict(cls, d: dict) -> "Benchmark":
        lat = d.get("latency_ms")
        return cls(d["device"], d.get("backend", ""), d.get("backend_reason", ""),
                   Latency.from_dict(lat) if lat else None, d.get("peak_rss_bytes"), d.get("error", ""),
                   dict(d.get("record") or {}))


@dataclass(frozen=True)
class ArtifactReport:
    """One deployed file: size, sparsity, accuracy (per backend), verification, latency."""

    path: str  # relative to the report's folder when inside it
    format: str
    precision: str
    size_bytes: int
    accuracy: Optional[float]  # on the preferred backend (`backend`)
    backend: str
    sparsity: SparsitySummary
    verification: Verification
    backends: Tuple[BackendAccuracy, ...] = ()
    benchmark: Optional[Benchmark] = None
    source: str = ""  # which Keras model it came from: "baseline" or "pruned"

    @property
    def latency_ms(self) -> Optional[Latency]:
        return self.benchmark.latency_ms if self.benchmark else None

    def to_dict(self) -> dict:
        return {
            "path": self.path, "format": self.format, "precision": self.precision, "size_bytes": self.size_bytes,
            "accuracy": self.accuracy, "sparsity": round(self.sparsity.overall, 6),
            "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None, "backend": self.backend,
            "source": self.source, "accuracy_by_backend": [b.to_dict() for b in self.backends],
            "sparsity_detail": self.sparsity.to_dict(), "verification": self.verification.to_dict(),
            "benchmark": self.benchmark.to_dict() if self.benchmark else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ArtifactReport":
        return cls(
            d["path"], d["format"], d["precision"], int(d["size_bytes"]), d.get("accuracy"), d.get("backend", ""),
            SparsitySummary.from_dict(d["sparsity_detail"]), Verification.from_dict(d["verification"]),
            tuple(BackendAccuracy.from_dict(b) for b in d.get("accuracy_by_backend", ())),
            Benchmark.from_dict(d["benchmark"]) if d.get("benchmark") else None, d.get("source", ""),
        )


@dataclass(frozen=True)
class Baseline:
    """The model as given: its saved size, parameter count and accuracy."""

    size_bytes: int
    accuracy: Optional[float]
    parameters: int = 0
    path: str = ""

    def to_dict(self) -> dict:
        return {"size_bytes": self.size_bytes, "accuracy": self.accuracy, "parameters": self.parameters,
                "path": self.path}

    @classmethod
    def from_dict(cls, d: dict) -> "Baseline":
        return cls(int(d["size_bytes"]), d.get("accuracy"), int(d.get("parameters", 0)), d.get("path", ""))


@dataclass(frozen=True)
class Step:
    """One pipeline step, its wall time and the accuracy measured right after it (None if not applicable)."""

    name: str
    duration_s: float
    accuracy: Optional[float] = None
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "duration_s": self.duration_s, "accuracy": self.accuracy, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict) -> "Step":
        return cls(d["name"], float(d["duration_s"]), d.get("accuracy"), d.get("detail", ""))


@dataclass(frozen=True)
class Pruning:
    """What pruning was asked for and what the stripped Keras model ended up with."""

    config: PruneConfig
    sparsity: SparsitySummary
    steps: int
    history: Tuple[Tuple[str, Tuple[float, ...]], ...] = ()

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "sparsity": self.sparsity.to_dict(), "steps": self.steps,
                "history": {k: list(v) for k, v in self.history}}

    @classmethod
    def from_dict(cls, d: dict) -> "Pruning":
        return cls(PruneConfig.from_dict(d["config"]), SparsitySummary.from_dict(d["sparsity"]), int(d["steps"]),
                   tuple((k, tuple(float(x) for x in v)) for k, v in (d.get("history") or {}).items()))


@dataclass(frozen=True)
class Report:
    """Everything one `optimize()` run measured."""

    baseline: Baseline
    artifacts: Tuple[ArtifactReport, ...]
    steps: Tuple[Step, ...] = ()
    pruning: Optional[Pruning] = None
    eval_samples: int = 0
    calibration_samples: int = 0
    environment: Tuple[Tuple[str, str], ...] = ()
    created_utc: str = ""
    version: int = SCHEMA_VERSION

    @property
    def wall_time_s(self) -> float:
        return sum(s.duration_s for s in self.steps)

    def to_dict(self) -> dict:
        return {
            "version": self.version, "created_utc": self.created_utc, "baseline": self.baseline.to_dict(),
            "artifacts": [a.to_dict() for a in self.artifacts], "steps": [s.to_dict() for s in self.steps],
            "wall_time_s": round(self.wall_time_s, 3),
            "pruning": self.pruning.to_dict() if self.pruning else None, "eval_samples": self.eval_samples,
            "calibration_samples": self.calibration_samples, "environment": dict(self.environment),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Report":
        if int(d.get("version", 0)) != SCHEMA_VERSION:
            raise ValueError(f"report schema version {d.get('version')!r} is not {SCHEMA_VERSION}")
        return cls(
            Baseline.from_dict(d["baseline"]), tuple(ArtifactReport.from_dict(a) for a in d["artifacts"]),
            tuple(Step.from_dict(s) for s in d.get("steps", ())),
            Pruning.from_dict(d["pruning"]) if d.get("pruning") else None, int(d.get("eval_samples", 0)),
            int(d.get("calibration_samples", 0)), tuple(sorted((d.get("environment") or {}).items())),
            d.get("created_utc", ""), int(d["version"]),
        )

"""The report of one `optimize()` run: Records (edgewise.runtime.records), written as report.json.

The JSON keeps a stable, flat core that tools can rely on (`baseline.size_bytes/accuracy`,
and per artifact `path, format, size_bytes, accuracy, sparsity, latency_ms.{p50,p90,p99},
backend`), with the detail beside it: the recipe, every step's measurements, accuracy per
backend, the verification figures, the per-tensor sparsity, the sensitivity table and the
candidates of a budget search. One schema version for the document (`version`); a report
of another version is refused, not half-read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Optional, Tuple

from edgewise.runtime.records import Record

from ..evaluate import BackendAccuracy
from ..recipe import Recipe
from ..search import SearchSummary
from ..sensitivity import SensitivityTable
from ..steps.measure import StepResult

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Latency(Record):
    """Latency percentiles in milliseconds over `n` timed runs (after warm-up)."""

    p50: float
    p90: float
    p99: float
    mean: Optional[float] = None
    std: Optional[float] = None
    n: int = 0


@dataclass(frozen=True)
class Benchmark(Record):
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
    record: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactReport(Record):
    """One deployed file: size, sparsity, accuracy (per backend), verification, latency.

    `sparsity_detail` and `verification` hold the converters' own records as they write them
    (`SparsitySummary.to_dict()`, `Verification.to_dict()`); the properties read them back.
    """

    path: str  # relative to the report's folder when inside it
    format: str
    precision: str
    size_bytes: int
    accuracy: Optional[float]  # on the preferred backend (`backend`)
    backend: str
    sparsity: float  # zeros among the weight tensors of the file
    sparsity_detail: Dict[str, Any] = field(default_factory=dict)
    verification: Dict[str, Any] = field(default_factory=dict)
    accuracy_by_backend: Tuple[BackendAccuracy, ...] = ()
    benchmark: Optional[Benchmark] = None
    source: str = ""  # the model it came from: "baseline" or the recipe step that made it, e.g. "step 2 (prune)"

    _derived: ClassVar[Tuple[str, ...]] = ("latency_ms",)

    @property
    def latency_ms(self) -> Optional[Latency]:
        return self.benchmark.latency_ms if self.benchmark else None

    @property
    def zeros(self):
        """The per-tensor SparsitySummary."""
        from ..compress.sparsity import SparsitySummary

        return SparsitySummary.from_dict(self.sparsity_detail)

    @property
    def check(self):
        """The converters' Verification of this file against its source."""
        from ..converters.result import Verification

        return Verification.from_dict(self.verification)


@dataclass(frozen=True)
class Baseline(Record):
    """The model as given: its saved size, parameter count and accuracy."""

    size_bytes: int
    accuracy: Optional[float]
    parameters: int = 0
    path: str = ""


@dataclass(frozen=True)
class Timing(Record):
    """One stage around the recipe (load, baseline, convert, evaluate, benchmark): wall time and accuracy."""

    name: str
    duration_s: float
    accuracy: Optional[float] = None
    detail: str = ""


@dataclass(frozen=True)
class BundleSizes(Record):
    """The final artifact, the `.ewb` bundle: the three sizes a user ships (as `edgewise inspect` gives them)."""

    path: str  # relative to the report's folder
    source: str  # the int8 TFLite file it packs
    download_bytes: int  # the .ewb
    disk_bytes: int  # the model once unpacked
    ram_bytes: int  # weight tensors in memory at run time (dense)
    accuracy: Optional[float] = None  # loaded from the .ewb with the NumPy backend


@dataclass(frozen=True)
class Report(Record):
    """Everything one `optimize()` run measured; `error` says why a run stopped early."""

    baseline: Baseline
    artifacts: Tuple[ArtifactReport, ...] = ()
    steps: Tuple[StepResult, ...] = ()
    timings: Tuple[Timing, ...] = ()
    recipe: Optional[Recipe] = None
    sensitivity: Optional[SensitivityTable] = None
    search: Optional[SearchSummary] = None
    error: str = ""
    max_accuracy_drop: Optional[float] = None  # points, the guard's bound per step
    seed: int = 0
    eval_samples: int = 0
    calibration_samples: int = 0
    environment: Dict[str, str] = field(default_factory=dict)
    created_utc: str = ""
    version: int = SCHEMA_VERSION
    bundle: Optional[BundleSizes] = None  # the final deployable artifact

    _derived: ClassVar[Tuple[str, ...]] = ("wall_time_s",)

    def __post_init__(self):
        if self.version != SCHEMA_VERSION:
            raise ValueError(f"report schema version {self.version!r} is not {SCHEMA_VERSION}")

    @property
    def wall_time_s(self) -> float:
        return round(sum(t.duration_s for t in self.timings) + sum(s.wall_time_s for s in self.steps), 3)

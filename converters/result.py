"""What a conversion produced and how well it matched its source: frozen, JSON-round-trippable."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ..compress.sparsity import SparsitySummary


@dataclass(frozen=True)
class VerifyConfig:
    """Acceptance thresholds for the numeric check of a converted artifact.

    Float artifacts must match the source to `float_atol + float_rtol * max|reference|` in the
    worst element. An int8 artifact cannot: each layer rounds to its own scale and the rounding
    accumulates, so its gate is on the mean absolute error, in units of the output quantization
    scale (one step of the int8 grid the result lands on), together with the share of samples
    whose arg-max class is unchanged, among those the source decides by more than that tolerance.
    On the demo CNN the int8 files sit near 0.3 (TFLite) and 1.2 (ONNX QDQ) scale steps with full
    agreement; a wrong model (another checkpoint, a stale file) is several steps off and flips
    many arg-max classes.
    """

    float_atol: float = 1e-4
    float_rtol: float = 1e-4
    int8_mean_scales: float = 3.0
    min_top1_agreement: float = 0.95
    samples: int = 256

    def to_dict(self) -> dict:
        return {"float_atol": self.float_atol, "float_rtol": self.float_rtol, "int8_mean_scales": self.int8_mean_scales,
                "min_top1_agreement": self.min_top1_agreement, "samples": self.samples}

    @classmethod
    def from_dict(cls, d: dict) -> "VerifyConfig":
        return cls(**d)


@dataclass(frozen=True)
class OutputCheck:
    """The comparison of one output tensor: measured errors, the bound applied, and the verdict."""

    tensor: str
    max_abs_error: float
    mean_abs_error: float
    metric: str  # "max_abs_error" (float artifacts) or "mean_abs_error" (int8 artifacts)
    tolerance: float
    output_scale: Optional[float] = None
    top1_agreement: Optional[float] = None
    min_top1_agreement: Optional[float] = None
    top1_samples: int = 0  # samples whose reference top-1 margin exceeds the tolerance (see top1_agreement)

    @property
    def measured(self) -> float:
        return self.max_abs_error if self.metric == "max_abs_error" else self.mean_abs_error

    @property
    def passed(self) -> bool:
        ok = self.measured <= self.tolerance
        if self.top1_agreement is not None and self.min_top1_agreement is not None:
            ok = ok and self.top1_agreement >= self.min_top1_agreement
        return ok

    def to_dict(self) -> dict:
        return {"tensor": self.tensor, "max_abs_error": self.max_abs_error, "mean_abs_error": self.mean_abs_error,
                "metric": self.metric, "tolerance": self.tolerance, "output_scale": self.output_scale,
                "top1_agreement": self.top1_agreement, "min_top1_agreement": self.min_top1_agreement,
                "top1_samples": self.top1_samples, "passed": self.passed}

    @classmethod
    def from_dict(cls, d: dict) -> "OutputCheck":
        d = {k: v for k, v in d.items() if k != "passed"}
        return cls(**d)


@dataclass(frozen=True)
class Verification:
    """How an artifact was checked: against what, on how many samples, per output."""

    reference: str  # "keras" or the path of the source artifact
    samples: int
    outputs: Tuple[OutputCheck, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    def to_dict(self) -> dict:
        return {"reference": self.reference, "samples": self.samples, "passed": self.passed,
                "outputs": [o.to_dict() for o in self.outputs]}

    @classmethod
    def from_dict(cls, d: dict) -> "Verification":
        return cls(d["reference"], int(d["samples"]), tuple(OutputCheck.from_dict(o) for o in d["outputs"]))


@dataclass(frozen=True)
class ConversionResult:
    """One written artifact: where, which format and precision, how big, how sparse, how verified."""

    path: str
    format: str  # "tflite" or "onnx"
    precision: str  # "float32" or "int8"
    size_bytes: int
    sparsity: SparsitySummary
    verification: Verification
    duration_s: float

    def to_dict(self) -> dict:
        return {"path": self.path, "format": self.format, "precision": self.precision, "size_bytes": self.size_bytes,
                "sparsity": self.sparsity.to_dict(), "verification": self.verification.to_dict(),
                "duration_s": self.duration_s}

    @classmethod
    def from_dict(cls, d: dict) -> "ConversionResult":
        return cls(d["path"], d["format"], d["precision"], int(d["size_bytes"]),
                   SparsitySummary.from_dict(d["sparsity"]), Verification.from_dict(d["verification"]),
                   float(d["duration_s"]))

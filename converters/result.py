"""What a conversion produced and how well it matched its source: frozen records, JSON-round-trippable.

Every record inherits `edgewise.runtime.records.Record`, so `to_dict()`/`from_dict()` follow the
fields; properties listed in `_derived` (`passed`, `measured`) are written for readers of the JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from edgewise.runtime.records import Record
from edgewise.runtime.spec import TensorSpec

from .sparsity import SparsitySummary


@dataclass(frozen=True)
class VerifyConfig(Record):
    """Acceptance thresholds for the numeric check of a converted artifact.

    Float artifacts must match the source to `atol + rtol * max|reference|` in the worst element,
    with (atol, rtol) chosen by precision: `float_*` for float32 files written by the same
    framework as the source (Keras -> TFLite, ONNX -> int8 ONNX's float parts), `cross_*` for
    float32 files that crossed frameworks (ONNX -> TensorFlow through onnx2tf, PyTorch -> ONNX),
    whose kernels sum in another order, and `float16_rtol` for float16 weights (11-bit mantissa:
    each weight carries up to 2^-11 relative error, summed over a layer's fan-in).

    A quantized artifact (int8, dynamic range, int16x8) cannot match elementwise: each layer
    rounds to its own scale and the rounding accumulates, so its gate is on the mean absolute
    error in units of the output quantization step (the output tensor's scale, or (max - min) / 255
    of the reference output when the output is float), together with the share of samples whose
    arg-max class is unchanged, among those the source decides by more than that tolerance, and
    the cosine similarity of the whole output with the source's (`min_cosine`): a mean over a
    1000-class softmax is dominated by near-zero classes, and a file whose scores point elsewhere
    (cosine 0.5 on a randomly initialised ResNet-50) would pass the mean alone. On the demo CNN the int8 files sit near 0.3 (TFLite) and 1.2 (ONNX QDQ) steps with full
    agreement; a wrong model (another checkpoint, a stale file) is several steps off and flips
    many arg-max classes.
    """

    float_atol: float = 1e-4
    float_rtol: float = 1e-4
    int8_mean_scales: float = 3.0
    min_top1_agreement: float = 0.95
    samples: int = 256
    cross_atol: float = 1e-4
    cross_rtol: float = 1e-3
    float16_rtol: float = 2e-2
    min_cosine: float = 0.9


@dataclass(frozen=True)
class OutputCheck(Record):
    """The comparison of one output tensor: measured errors, the bound applied, and the verdict.

    `relative_error` is ||got - ref||_2 / ||ref||_2 over the whole output; `cosine` the cosine
    similarity of the flattened outputs (1.0 = same direction); both are reported, not gated.
    """

    _derived = ("measured", "passed")

    tensor: str
    max_abs_error: float
    mean_abs_error: float
    metric: str  # "max_abs_error" (float artifacts) or "mean_abs_error" (quantized artifacts)
    tolerance: float
    output_scale: Optional[float] = None
    top1_agreement: Optional[float] = None
    min_top1_agreement: Optional[float] = None
    top1_samples: int = 0  # samples whose reference top-1 margin exceeds the tolerance (see top1_agreement)
    relative_error: float = 0.0
    cosine: Optional[float] = None
    rule: str = ""  # the tolerance in words, e.g. "max |error| <= 1e-4 + 1e-4 * max|reference|"
    min_cosine: Optional[float] = None

    @property
    def measured(self) -> float:
        return self.max_abs_error if self.metric == "max_abs_error" else self.mean_abs_error

    @property
    def passed(self) -> bool:
        ok = self.measured <= self.tolerance
        if self.top1_agreement is not None and self.min_top1_agreement is not None:
            ok = ok and self.top1_agreement >= self.min_top1_agreement
        if self.min_cosine is not None:
            ok = ok and self.cosine is not None and self.cosine >= self.min_cosine
        return ok


@dataclass(frozen=True)
class Verification(Record):
    """How an artifact was checked: against what, on how many samples, per output."""

    _derived = ("passed",)

    reference: str  # "keras model 'name'", an ONNX path, "torch module 'Net'", ...
    samples: int
    outputs: Tuple[OutputCheck, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)


@dataclass(frozen=True)
class InputLayout(Record):
    """How one artifact input relates to the source's input of the same name.

    `perm` is the transpose that takes the source's array to the artifact's (NCHW -> NHWC is
    (0, 2, 3, 1)); empty when the layouts agree. `edgewise.converters.layout.adapt` applies it.
    """

    name: str  # the source's input name (what the user's .npz keys are)
    artifact_name: str
    source_shape: Tuple[Optional[int], ...]
    artifact_shape: Tuple[Optional[int], ...]
    perm: Tuple[int, ...] = ()
    description: str = "same layout"


@dataclass(frozen=True)
class RuntimeSupport(Record):
    """Whether one runtime (and delegate) can run the artifact, and why not."""

    runtime: str  # e.g. "LiteRT (XNNPACK delegate)", "edgewise.runtime (NumPy)"
    supported: bool
    reason: str = ""


@dataclass(frozen=True)
class LayerError(Record):
    """The error of one layer's output tensor in the converted file against the float source.

    `steps` is the mean |error| in units of the tensor's quantization step (its scale; for a float
    tensor, (max - min) / 255 of the reference); `snr_db` = 10 log10(sum ref^2 / sum error^2),
    capped at 120 dB for an exact match; `growth_db` how much SNR this layer lost against the
    worst of its inputs.
    """

    index: int  # execution order in the converted file
    op: str
    tensor: str
    steps: float
    max_steps: float
    snr_db: float
    growth_db: float = 0.0


@dataclass(frozen=True)
class LayerReport(Record):
    """Per-layer error of a quantized artifact, computed with edgewise.runtime's NumPy backend."""

    reference: str  # the float file whose intermediates are the reference
    samples: int
    layers: Tuple[LayerError, ...] = ()
    worst_growth: Optional[str] = None  # the tensor where the error grows most
    unavailable: str = ""  # why no report could be made (e.g. an op the NumPy backend lacks)


@dataclass(frozen=True)
class ConversionResult(Record):
    """One written artifact: where, which format and precision, how big, how sparse, how verified.

    `inputs`/`outputs` are the artifact's tensor specs (a dynamic dimension is None, so the batch
    size reads off the first dimension); `layouts` says how each source input maps onto them.
    """

    path: str
    format: str  # "tflite" or "onnx"
    precision: str  # "float32", "float16", "dynamic", "int8", "int16x8"
    size_bytes: int
    sparsity: SparsitySummary
    verification: Verification
    duration_s: float
    source: str = ""
    converter: str = ""  # e.g. "tf.lite.TFLiteConverter", "onnx2tf 1.28.8", "onnxruntime.quantization (QDQ)"
    inputs: Tuple[TensorSpec, ...] = ()
    outputs: Tuple[TensorSpec, ...] = ()
    layouts: Tuple[InputLayout, ...] = ()
    sparse_encoding: bool = False  # TFLite sparse tensor encoding used (smaller file than dense)
    runtimes: Tuple[RuntimeSupport, ...] = ()
    layers: Optional[LayerReport] = None
    notes: Tuple[str, ...] = ()

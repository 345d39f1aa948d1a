"""`quantize`: post-training quantization through the converters, writing deployable files.

int8 is full-integer post-training quantization (Jacob et al. 2018): per-channel int8 weights,
per-tensor int8 activations calibrated on the user's samples, int8 input and output. The other
TFLiteConverter modes: `dynamic` (int8 weights, float activations computed at run time),
`float16` (half-precision weights) and `int16x8` (int16 activations, int8 weights; for models
whose activations int8 cannot resolve). ONNX files are written as int8 (QDQ) only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

from edgewise.converters.compare import PRECISIONS

from .base import StepContext, StepOutput, StepSpec, field_error

MODES = ("int8",) + tuple(p for p in PRECISIONS if p not in ("int8", "float32"))  # what keras_to_tflite offers
FORMATS = ("tflite", "onnx")


@dataclass(frozen=True)
class QuantizeStep(StepSpec):
    """Convert the current model to `formats` at `mode`; the files are the step's artifacts."""

    kind: ClassVar[str] = "quantize"
    trains: ClassVar[bool] = False
    writes_keras: ClassVar[bool] = False

    mode: str = "int8"
    formats: Tuple[str, ...] = ("tflite",)
    max_accuracy_drop: Optional[float] = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise field_error("mode", f"must be one of {MODES}, got {self.mode!r}")
        if not self.formats or set(self.formats) - set(FORMATS):
            raise field_error("formats", f"must be a non-empty list from {FORMATS}, got {list(self.formats)}")
        if "onnx" in self.formats and self.mode != "int8":
            raise field_error("formats", f"ONNX is written as int8 (QDQ) only; mode {self.mode!r} is TFLite-only")

    @property
    def fine_tune_epochs(self) -> int:
        return 0

    def describe(self) -> str:
        return f"quantize {self.mode} ({', '.join(self.formats)})"

    def check(self, model) -> None:
        if "onnx" in self.formats:
            from .._extras import require

            require("tf2onnx", "a quantize step writing ONNX")

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..converters import keras_to_onnx, keras_to_tflite, quantize_onnx_int8

        written = []
        if "tflite" in self.formats:
            r = keras_to_tflite(model, ctx.path(f"model.{self.mode}.tflite"), ctx.calib.x, precision=self.mode)
            written.append(r)
        if "onnx" in self.formats:
            float_onnx = ctx.path("model.onnx")
            if not os.path.isfile(float_onnx):
                written.append(keras_to_onnx(model, float_onnx, ctx.calib.x))
            written.append(quantize_onnx_int8(float_onnx, ctx.path("model.int8.onnx"), ctx.calib.x))
        detail = "; ".join(f"{os.path.basename(r.path)} {r.size_bytes} bytes, verified on "
                           f"{r.verification.samples} samples" for r in written)
        rel = [os.path.relpath(r.path, ctx.out_dir) for r in written]
        return StepOutput(model, tuple(rel), {p: r.verification.to_dict() for p, r in zip(rel, written)}, detail)

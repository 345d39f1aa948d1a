"""`distill`: train a smaller student on the current model's soft targets (Hinton et al. 2015).

The loss mixes the teacher's temperature-softened outputs (weight alpha, scaled by T^2) with
the labels; the student is derived from the teacher (`StudentConfig`: width multiplier, layers
dropped). The technique is `edgewise.compress.distill`; a step holds its configs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..compress.distill import DistillConfig, StudentConfig
from ..compress.train import FineTuneConfig
from .base import StepContext, StepOutput, StepSpec


@dataclass(frozen=True)
class DistillStep(StepSpec):
    kind: ClassVar[str] = "distill"

    student: StudentConfig = field(default_factory=StudentConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    fine_tune: FineTuneConfig = field(default_factory=lambda: FineTuneConfig(epochs=10))
    max_accuracy_drop: Optional[float] = None

    def describe(self) -> str:
        return (f"distil into a student of width {self.student.width:g}"
                f" (T={self.distill.temperature:g}, alpha={self.distill.alpha:g})")

    def check(self, model) -> None:
        from ..compress.distill import derive_student

        derive_student(model, self.student)

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..compress.distill import derive_student

        student = derive_student(model, self.student, ctx.seed)
        r = self.fine_tune_with(student, ctx, teacher=model, distill=self.distill)
        return StepOutput(r.model, detail=f"student {student.count_params()} parameters, teacher "
                                          f"{model.count_params()}; {r.history.epochs} epochs",
                          epochs=r.history.epochs)

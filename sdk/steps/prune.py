"""`prune`: magnitude pruning during fine-tuning, or structured (N:M, blocks), per-layer targets.

Han et al. 2015 ("Learning both Weights and Connections") zero the smallest weights and
fine-tune; Zhu & Gupta 2017 ramp the sparsity polynomially. N:M keeps the N largest of every M
consecutive weights (Mishra et al. 2021); blocks zero whole tiles: the patterns `runtime/sparse`
runs fast. The technique and its settings live in `edgewise.compress.pruning`; a step holds one
of its configs and the fine-tuning settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..compress.pruning.magnitude import MagnitudeConfig
from ..compress.pruning.structured import StructuredConfig
from ..compress.train import FineTuneConfig
from .base import RecipeError, StepContext, StepOutput, StepSpec


@dataclass(frozen=True)
class PruneStep(StepSpec):
    """Exactly one of `magnitude` (unstructured, per-layer targets) or `structured` (N:M or blocks)."""

    kind: ClassVar[str] = "prune"

    magnitude: Optional[MagnitudeConfig] = None
    structured: Optional[StructuredConfig] = None
    fine_tune: FineTuneConfig = field(default_factory=FineTuneConfig)
    max_accuracy_drop: Optional[float] = None

    def __post_init__(self):
        if (self.magnitude is None) == (self.structured is None):
            raise RecipeError("give exactly one of 'magnitude' (e.g. {\"target_sparsity\": 0.8}) or 'structured' "
                              "(e.g. {\"kind\": \"nm\", \"n\": 2, \"m\": 4})", field="magnitude")

    def describe(self) -> str:
        if self.magnitude is not None:
            per = ", per-layer targets" if self.magnitude.layer_targets else ""
            return f"prune {self.magnitude.target_sparsity:.0%} (magnitude{per})"
        return f"prune {self.structured.label}"

    def check(self, model) -> None:
        if self.magnitude is not None:
            self.magnitude.targets(model)
        else:
            from ..compress.pruning.structured import structured_masks

            structured_masks(model, self.structured)

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..compress.pruning.magnitude import MagnitudePruning
        from ..compress.pruning.structured import StructuredPruning

        c = MagnitudePruning(self.magnitude) if self.magnitude is not None else StructuredPruning(self.structured)
        r = self.fine_tune_with(model, ctx, [c])
        return StepOutput(r.model, detail=f"{r.history.epochs} epochs, {r.history.steps} steps", epochs=r.history.epochs)

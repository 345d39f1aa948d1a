"""`kbit`: weights on a 2^k-level grid (uniform or clustered), kept while fine-tuning; the bundle stores the codes.

The technique is `edgewise.compress.kbit` (per-channel uniform levels, or k-means levels as in
Deep Compression); a step holds its config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..compress.kbit import KBitConfig
from ..compress.train import FineTuneConfig
from .base import StepContext, StepOutput, StepSpec


@dataclass(frozen=True)
class KBitStep(StepSpec):
    kind: ClassVar[str] = "kbit"

    kbit: KBitConfig = field(default_factory=KBitConfig)
    fine_tune: FineTuneConfig = field(default_factory=FineTuneConfig)
    max_accuracy_drop: Optional[float] = None

    def describe(self) -> str:
        return f"{self.kbit.bits}-bit weights ({self.kbit.method})"

    def check(self, model) -> None:
        from ..compress.clustering import ClusterConfig
        from ..compress.clustering.sharing import cluster_selection
        from ..compress.prunable import prunable_weights
        from ..compress.select import check_rules

        cluster_selection(model, ClusterConfig(include=self.kbit.include, exclude=self.kbit.exclude), "KBitConfig")
        check_rules([n for n, _, _ in prunable_weights(model)], self.kbit.layer_bits, "KBitConfig.layer_bits")

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..compress.kbit import KBitProjection

        projection = KBitProjection(self.kbit, ctx.seed)
        r = self.fine_tune_with(model, ctx, [projection])
        bits = sorted({b.bits for b in projection.layer_bits()})
        return StepOutput(r.model, detail=f"{r.history.epochs} epochs; bits per layer {bits}", epochs=r.history.epochs)

"""`cluster`: weight sharing (Han et al. 2016, Deep Compression): k shared values per layer, kept while fine-tuning.

The technique (k-means with linear / density / k-means++ initialisation, centroid gradients
accumulated per cluster) is `edgewise.compress.clustering`; a step holds its config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..compress.clustering import ClusterConfig
from ..compress.train import FineTuneConfig
from .base import StepContext, StepOutput, StepSpec


@dataclass(frozen=True)
class ClusterStep(StepSpec):
    kind: ClassVar[str] = "cluster"

    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    fine_tune: FineTuneConfig = field(default_factory=FineTuneConfig)
    max_accuracy_drop: Optional[float] = None

    def describe(self) -> str:
        c = self.cluster
        return f"cluster {c.clusters} values per {'channel' if c.per_channel else 'layer'} ({c.init})"

    def check(self, model) -> None:
        from ..compress.clustering.sharing import cluster_selection

        cluster_selection(model, self.cluster)

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..compress.clustering import ClusterSharing

        r = self.fine_tune_with(model, ctx, [ClusterSharing(self.cluster, ctx.seed)])
        return StepOutput(r.model, detail=f"{r.history.epochs} epochs", epochs=r.history.epochs)

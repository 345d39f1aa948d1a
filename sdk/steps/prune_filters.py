"""`prune_filters`: remove whole filters and what depends on them, for a smaller dense model, then fine-tune.

Li et al. 2017 ("Pruning Filters for Efficient ConvNets") rank filters by L1 norm; Molchanov et
al. 2017 by measured effect. The result is smaller and faster on every runtime. The technique
(dependants: bias, BatchNormalization, the next layer's inputs, depthwise pairs; residual adds
refused with a reason) is `edgewise.compress.pruning.filters`; a step holds its config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..compress.pruning.filters import FilterPruneConfig
from ..compress.train import FineTuneConfig
from .base import StepContext, StepOutput, StepSpec


@dataclass(frozen=True)
class PruneFiltersStep(StepSpec):
    kind: ClassVar[str] = "prune_filters"

    filters: FilterPruneConfig = field(default_factory=FilterPruneConfig)
    fine_tune: FineTuneConfig = field(default_factory=FineTuneConfig)
    max_accuracy_drop: Optional[float] = None

    def describe(self) -> str:
        return f"remove {self.filters.fraction:.0%} of the filters ({self.filters.criterion})"

    def check(self, model) -> None:
        from ..compress.pruning.filters import choose_filters

        if self.filters.criterion != "sensitivity":  # measured sensitivity needs data: checked when it runs
            choose_filters(model, self.filters)

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..compress.pruning.filters import prune_filters

        data = ctx.fine_tuning_data(self.kind)
        p = prune_filters(model, self.filters, data if self.filters.criterion == "sensitivity" else None)
        r = self.fine_tune_with(p.model, ctx)
        removed = sum(len(l.removed) for l in p.layers)
        kept_whole = [f"{l.layer} ({l.reason})" for l in p.layers if l.reason]
        return StepOutput(r.model, detail=f"{removed} filters removed; {r.history.epochs} epochs"
                          + (f"; left whole: {', '.join(kept_whole)}" if kept_whole else ""), epochs=r.history.epochs)

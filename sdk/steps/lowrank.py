"""`lowrank`: truncated SVD of Dense and Conv kernels (k x k as k x 1 / 1 x k or Tucker-2), then fine-tuning.

Denton et al. 2014 and Jaderberg et al. 2014: a rank-r factorisation of an (m x n) kernel costs
r(m + n) instead of mn weights, so it is applied only where r(m + n) < mn. The technique is
`edgewise.compress.lowrank`; a step holds its config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..compress.lowrank import LowRankConfig
from ..compress.train import FineTuneConfig
from .base import StepContext, StepOutput, StepSpec


@dataclass(frozen=True)
class LowRankStep(StepSpec):
    kind: ClassVar[str] = "lowrank"

    lowrank: LowRankConfig = field(default_factory=LowRankConfig)
    fine_tune: FineTuneConfig = field(default_factory=FineTuneConfig)
    max_accuracy_drop: Optional[float] = None

    def describe(self) -> str:
        c = self.lowrank
        how = f"{c.param_fraction:.0%} of the parameters" if c.param_fraction is not None else f"{c.energy:.0%} energy"
        return f"low-rank factorisation ({how})"

    def check(self, model) -> None:
        from ..compress.select import leaf_layers, selected

        names = [l.name for l in leaf_layers(model) if type(l).__name__ in ("Dense", "Conv2D")]
        if not names:
            raise ValueError(f"model {model.name!r} has no Dense or Conv2D layer to factorise")
        selected(names, self.lowrank.include, self.lowrank.exclude, "LowRankConfig")

    def run(self, model, ctx: StepContext) -> StepOutput:
        from ..compress.lowrank import factorize

        f = factorize(model, self.lowrank)
        r = self.fine_tune_with(f.model, ctx)
        return StepOutput(r.model, detail=f"{len(f.layers)} layer(s) factorised; {r.history.epochs} epochs",
                          epochs=r.history.epochs)

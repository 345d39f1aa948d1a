"""Recipe steps: one module per kind, each a frozen Record of its parameters that maps a model to a model.

The registry names the module of every kind; a kind whose technique this build lacks is refused
with the reason (before any training), not mistaken for a typo.
"""
from __future__ import annotations

import importlib
from typing import Dict, Tuple, Type

from .base import RecipeError, StepContext, StepOutput, StepSpec
from .measure import LayerValues, StepResult, deployable_size

# kind -> (module under edgewise.steps, class)
STEP_KINDS: Dict[str, Tuple[str, str]] = {
    "prune": ("prune", "PruneStep"),
    "prune_filters": ("prune_filters", "PruneFiltersStep"),
    "cluster": ("cluster", "ClusterStep"),
    "lowrank": ("lowrank", "LowRankStep"),
    "distill": ("distill", "DistillStep"),
    "kbit": ("kbit", "KBitStep"),
    "quantize": ("quantize", "QuantizeStep"),
}


def step_class(kind: str) -> Type[StepSpec]:
    """The StepSpec subclass for `kind`, or a RecipeError (unknown kind, or not in this build)."""
    if kind not in STEP_KINDS:
        raise RecipeError(f"unknown step kind {kind!r}; known: {', '.join(STEP_KINDS)}", field="kind")
    module, name = STEP_KINDS[kind]
    try:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except (ImportError, AttributeError) as e:
        raise RecipeError(f"step kind {kind!r} is not available in this build ({e})", field="kind") from None


__all__ = ["STEP_KINDS", "step_class", "RecipeError", "StepContext", "StepOutput", "StepSpec", "StepResult",
           "LayerValues", "deployable_size"]

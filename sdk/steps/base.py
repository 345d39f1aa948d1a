"""The step protocol: a recipe step is data (a frozen Record), and running it maps a model to a model.

    spec.check(model)                    -> None, or RecipeError naming the field (before any training)
    spec.run(model, ctx)                 -> StepOutput(model, artifacts, detail)
    spec.with_more_fine_tuning(epochs)   -> the same step with a longer fine-tuning (the accuracy guard)

Measuring what a step did (size, accuracy, sparsity, distinct values, parameters, time) is the
runner's job (`steps.runner`), done the same way for every kind, so a new technique only says
how it transforms a model. Steps never modify the model they are given.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar, Dict, Optional, Tuple

from edgewise.runtime.records import Record

from ..data import Dataset
from ..progress import Progress, quiet


class RecipeError(ValueError):
    """A recipe, or one of its steps, cannot run: names the step (index and kind) and the field."""

    def __init__(self, message: str, step: Optional[int] = None, kind: str = "", field: str = ""):
        self.step, self.kind, self.field, self.reason = step, kind, field, message
        where = []
        if step is not None:
            where.append(f"recipe step {step} ({kind})" if kind else f"recipe step {step}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(": ".join(where + [message]))

    def at(self, step: int, kind: str) -> "RecipeError":
        """The same error, located at step `step` of kind `kind`."""
        return RecipeError(self.reason, step, kind or self.kind, self.field)


def field_error(name: str, message: str) -> RecipeError:
    return RecipeError(message, field=name)


@dataclass(frozen=True)
class StepContext:
    """What every step may use: data, where to write, how to report, the seed."""

    train: Optional[Dataset]
    calib: Dataset
    eval: Dataset
    out_dir: str
    progress: Progress = quiet
    seed: int = 0
    index: int = 0  # the step's position in the recipe (1-based)

    def fine_tuning_data(self, kind: str) -> Dataset:
        data = self.train if self.train is not None else self.calib
        if not data.has_labels:
            raise RecipeError(f"fine-tunes on {data.source} (the fine-tuning data: `train`, else the calibration "
                              "data), which has no labels (array 'y'); pass --train with labels", self.index, kind)
        return data

    def path(self, name: str) -> str:
        return os.path.join(self.out_dir, name)


@dataclass(frozen=True)
class StepOutput:
    """What a step returns: the new Keras model, files it wrote (relative to out_dir), a one-line detail.

    `checks` maps each written file to the converters' verification of it (`Verification.to_dict()`).
    """

    model: object = field(repr=False)
    artifacts: Tuple[str, ...] = ()
    checks: Dict[str, dict] = field(default_factory=dict)
    detail: str = ""
    epochs: int = 0  # fine-tuning epochs actually run


@dataclass(frozen=True)
class StepSpec(Record):
    """Base of every step kind; subclasses are frozen dataclasses whose fields are the step's parameters."""

    kind: ClassVar[str] = ""
    trains: ClassVar[bool] = True  # False: post-training (no fine-tuning, the guard cannot extend it)
    writes_keras: ClassVar[bool] = True  # False: the step writes deployable files and keeps the model as is
    _derived: ClassVar[Tuple[str, ...]] = ("kind",)

    def check(self, model) -> None:
        """Refuse what cannot work on `model` (a pattern matching no layer, no layer of the right type)."""

    def run(self, model, ctx: StepContext) -> StepOutput:  # pragma: no cover - every kind overrides it
        raise NotImplementedError(self.kind)

    def with_more_fine_tuning(self, epochs: int) -> "StepSpec":
        """The same step with `epochs` of fine-tuning (what the accuracy guard retries with)."""
        import dataclasses

        return dataclasses.replace(self, fine_tune=dataclasses.replace(self.fine_tune, epochs=epochs))

    @property
    def fine_tune_epochs(self) -> int:
        ft = getattr(self, "fine_tune", None)
        return int(ft.epochs) if ft is not None and self.trains else 0

    def fine_tune_with(self, model, ctx: "StepContext", constraints=(), **kwargs):
        """Run the shared fine-tuning loop (edgewise.compress.train) on a copy of `model` under `constraints`."""
        from ..compress.train import fine_tune

        data = ctx.fine_tuning_data(self.kind)
        return fine_tune(model, data, self.fine_tune, constraints, progress=lambda m: ctx.progress("  " + m),
                         seed=ctx.seed, **kwargs)

    def describe(self) -> str:
        """A short human name, e.g. "prune 80% (magnitude)"."""
        return self.kind

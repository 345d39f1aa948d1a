"""The step protocol: a recipe step is data (a frozen Record), and running it maps a model to a model.

    spec.check(model)                    -> None, or RecipeError naming the field (before any training)
    spec.run(model, ctx)                 -> StepOutput(model, artifacts, detail)
    spec.with_more_fine_tuning(epochs)   -> the same step with a longer fine-tuning (the accuracy guard)

Measuring what a step did (size, accuracy, sparsity, distinct values, parameters, time) is the
runner's job (`steps.runner`), done the same way for every kind, so a new technique only says
how it transforms a model. Steps never modify the model they are given.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple

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


def check_fraction(name: str, value: float, low_open: bool = False, high_closed: bool = False) -> None:
    """value in [0, 1) by default; `low_open` excludes 0, `high_closed` includes 1."""
    ok_low = value > 0.0 if low_open else value >= 0.0
    ok_high = value <= 1.0 if high_closed else value < 1.0
    if not (ok_low and ok_high):
        lo, hi = "(" if low_open else "[", "]" if high_closed else ")"
        raise field_error(name, f"must be in {lo}0, 1{hi}, got {value!r}")


def check_epochs(epochs: int) -> None:
    if epochs < 0:
        raise field_error("epochs", f"must be >= 0, got {epochs}")


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


def leaf_layers(model) -> list:
    out = []
    for layer in model.layers:
        inner = getattr(layer, "layers", None)
        out.extend(leaf_layers(layer) if inner else [layer])
    return out


def match_layers(model, patterns: Sequence[str], exclude: Sequence[str] = (), field_name: str = "layers",
                 types: Optional[Sequence[str]] = None) -> List[str]:
    """Names of the layers matching any of `patterns` (shell-style, e.g. "dense*") and none of `exclude`.

    A pattern that matches no layer is an error naming it and the layers there are: a typo would
    otherwise compress nothing and say nothing. `types` restricts to layer classes (by name).
    """
    layers = [l for l in leaf_layers(model) if types is None or type(l).__name__ in types]
    names = [l.name for l in layers]
    for group, pats in ((field_name, patterns), ("exclude", exclude)):
        for p in pats:
            if not fnmatch.filter(names, p):
                kinds = f" of type {'/'.join(types)}" if types else ""
                raise field_error(group, f"pattern {p!r} matches no layer{kinds} of {model.name!r} "
                                         f"(it has {names})")
    chosen = [n for n in names if (not patterns or any(fnmatch.fnmatch(n, p) for p in patterns))
              and not any(fnmatch.fnmatch(n, p) for p in exclude)]
    if not chosen:
        raise field_error(field_name, f"no layer{' of type ' + '/'.join(types) if types else ''} is left to "
                                      f"compress in {model.name!r}")
    return chosen


def needs(module: str, what: str, *names: str):
    """The technique module `module` (and its `names`), or a RecipeError saying this build lacks it."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise RecipeError(f"{what} needs {module}, which this build of edgewise does not have ({e})") from None
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise RecipeError(f"{what} needs {module}.{', '.join(missing)}, which this build of edgewise does not have")
    return mod

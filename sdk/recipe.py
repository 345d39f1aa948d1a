"""Recipes: an ordered list of compression steps with their parameters, as data (JSON or YAML).

    {"version": 1, "name": "small",
     "steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.8}, "fine_tune": {"epochs": 3}},
               {"kind": "quantize", "mode": "int8"}]}

A recipe is read and checked completely before anything trains: the document's shape and every
field value (`Recipe.from_dict`), then every step against the model (`check_recipe`: a layer
pattern that matches nothing, a technique the model cannot take). Every error names the step
by its 1-based index and kind, and the field. The recipe is written into the report.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from edgewise.runtime.records import Record, RecordError

from .steps import RecipeError, StepSpec, step_class

RECIPE_VERSION = 1


def _parse_step(d: Any, index: int) -> StepSpec:
    if not isinstance(d, dict):
        raise RecipeError(f"expected an object with a 'kind', got {type(d).__name__}", index)
    kind = d.get("kind")
    if not isinstance(kind, str):
        raise RecipeError("missing 'kind' (e.g. \"prune\", \"quantize\")", index, field="kind")
    try:
        cls = step_class(kind)
        return cls.from_dict(d)
    except RecipeError as e:
        raise e.at(index, kind) from None
    except (RecordError, TypeError, ValueError) as e:
        raise RecipeError(str(e), index, kind) from None


@dataclass(frozen=True)
class Recipe(Record):
    """Ordered steps; training steps first, then the post-training ones (quantize) that write files."""

    steps: Tuple[StepSpec, ...] = ()
    name: str = ""
    version: int = RECIPE_VERSION

    def __post_init__(self):
        if self.version != RECIPE_VERSION:
            raise RecipeError(f"recipe version {self.version} is not {RECIPE_VERSION}", field="version")
        seen_post = None
        for i, s in enumerate(self.steps, start=1):
            if not isinstance(s, StepSpec):
                raise RecipeError(f"expected a step, got {type(s).__name__}", i)
            if not s.writes_keras:
                seen_post = seen_post or (i, s.kind)
            elif seen_post:
                raise RecipeError(f"comes after the post-training step {seen_post[0]} ({seen_post[1]}); "
                                  "put the steps that change the model first", i, s.kind)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Recipe":
        """Read a recipe document; each step is read by its kind's class (errors name the step)."""
        if not isinstance(d, dict):
            raise RecipeError(f"a recipe is an object with 'steps', got {type(d).__name__}")
        steps = d.get("steps", [])
        if not isinstance(steps, list):
            raise RecipeError(f"'steps' must be a list, got {type(steps).__name__}", field="steps")
        parsed = tuple(_parse_step(s, i) for i, s in enumerate(steps, start=1))
        try:
            head = super().from_dict({k: v for k, v in d.items() if k != "steps"})
        except RecordError as e:
            raise RecipeError(str(e)) from None
        return dataclasses.replace(head, steps=parsed)

    def describe(self) -> str:
        return " -> ".join(s.describe() for s in self.steps) or "(no steps: convert only)"


def load_recipe(path: "str | os.PathLike") -> Recipe:
    """A recipe from a .json, .yaml or .yml file; errors name the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such recipe file")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        if path.lower().endswith((".yaml", ".yml")):
            from ._extras import require

            doc = require("yaml", "YAML recipes").safe_load(text)
        else:
            doc = json.loads(text)
    except ValueError as e:  # json.JSONDecodeError and yaml.YAMLError's parser errors
        raise RecipeError(f"{path}: not a readable recipe ({e})") from None
    try:
        return Recipe.from_dict(doc)
    except RecipeError as e:
        raise RecipeError(f"{path}: {e}") from None


def save_recipe(recipe: Recipe, path: "str | os.PathLike") -> None:
    from .fileio import write_json_atomic

    write_json_atomic(path, recipe.to_dict())


def check_recipe(recipe: Recipe, model) -> None:
    """Refuse, before any training, a step that cannot run on `model` (names the step and the field)."""
    for i, s in enumerate(recipe.steps, start=1):
        try:
            s.check(model)
        except RecipeError as e:
            raise e.at(i, s.kind) from None
        except ValueError as e:
            raise RecipeError(str(e), i, s.kind) from None


def shorthand(prune: Optional[float] = None, quantize: Optional[str] = None, epochs: int = 3,
              formats: Tuple[str, ...] = ("tflite",)) -> Recipe:
    """The recipe behind `--prune S --quantize MODE`: magnitude pruning with fine-tuning, then quantization.

    MODE is one of `steps.quantize.MODES` (int8, float16, dynamic, int16x8).
    """
    from .compress.pruning.magnitude import MagnitudeConfig
    from .compress.train import FineTuneConfig
    from .steps.prune import PruneStep
    from .steps.quantize import QuantizeStep

    steps = []
    if prune is not None:
        if not 0.0 < float(prune) < 1.0:
            raise RecipeError(f"prune must be a sparsity in (0, 1), got {prune!r}", field="prune")
        steps.append(PruneStep(magnitude=MagnitudeConfig(float(prune)), fine_tune=FineTuneConfig(epochs=epochs)))
    if quantize is not None:
        from .steps.quantize import MODES

        if quantize not in MODES:
            raise RecipeError(f"quantize must be one of {list(MODES)} or None, got {quantize!r}", field="quantize")
        # ONNX files are int8 only: the other modes write TFLite alone
        steps.append(QuantizeStep(mode=quantize, formats=formats if quantize == "int8" else ("tflite",)))
    return Recipe(tuple(steps), name="shorthand")

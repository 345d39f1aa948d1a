"""Run a recipe's steps in order: seed, run, measure, guard, save; every file written atomically.

The accuracy guard (issue 7): every step has a bound on the accuracy it may lose (points on the
held-out set; the step's `max_accuracy_drop`, else the run's). A training step that breaks it
is run again from the same starting model with twice the fine-tuning, up to `GUARD_FACTOR`
times what the recipe asked; if it still breaks the bound, `AccuracyGuardError` stops the run
naming the step, the accuracy before and after, and what to try. Files of earlier steps stay.
Ctrl-C raises KeyboardInterrupt out of whatever step runs; nothing half-written remains,
because every file goes through `edgewise.fileio.atomic_path`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..evaluate import evaluate_artifact, keras_accuracy
from ..fileio import atomic_path
from .base import StepContext, StepOutput, StepSpec
from .deploy import bundle_artifacts, write_bundle
from .measure import StepResult, deployable_size, keras_weights, layer_values, sparsity_of

# Writers of a deployable file for the model after each training step: writer(model, stem, ctx) -> path
# written (stem = out_dir/steps/NN-kind, without suffix). The .ewb bundle (issue 8) writes the step's
# model as int8 TFLite packed; `deployable_size` (steps.measure) reports the smallest file of every step.
# A post-training step's int8 TFLite file is packed beside it (`deploy.bundle_artifacts`).
DEPLOYABLE_WRITERS: List[Callable[[object, str, StepContext], str]] = [write_bundle]

GUARD_FACTOR = 4  # a step that breaks its bound may fine-tune up to 4x the epochs its recipe gives
DEFAULT_MAX_DROP = 1.0  # points

ADVICE = {
    "prune": "lower the sparsity, give more epochs, or set per-layer targets from the sensitivity analysis "
             "(edgewise optimize ... --sensitivity)",
    "prune_filters": "remove a smaller fraction of filters, choose them by measured sensitivity, or exclude "
                     "the sensitive layers",
    "cluster": "use more clusters, cluster per channel, or leave the sensitive layers out",
    "lowrank": "raise the energy threshold (keep more rank) or exclude the sensitive layers",
    "distill": "use a wider student, more epochs, or a lower temperature",
    "kbit": "use more bits, clustered instead of uniform levels, or leave the sensitive layers out",
    "quantize": "use a larger, more representative calibration set, or the int16x8 / float16 modes",
}


class AccuracyGuardError(RuntimeError):
    """A step lost more accuracy than its bound allows, even after fine-tuning longer."""

    def __init__(self, step: int, kind: str, name: str, before: float, after: float, bound: float, epochs: int,
                 results: Sequence[StepResult] = ()):
        self.step, self.kind, self.before, self.after, self.bound = step, kind, before, after, bound
        self.results = tuple(results)
        tried = f" after fine-tuning up to {epochs} epochs" if epochs else " (post-training: no fine-tuning to extend)"
        super().__init__(
            f"recipe step {step} ({kind}: {name}) dropped held-out accuracy from {before:.2%} to {after:.2%} "
            f"({(before - after) * 100:.2f} points > the bound of {bound:g}){tried}; the run stopped, files of "
            f"earlier steps are kept. Try: {ADVICE.get(kind, 'a gentler setting for this step')}, or allow a "
            f"larger drop with --max-accuracy-drop")


@dataclass(frozen=True)
class StepRun:
    """The result of running all steps: the final model and the per-step measurements."""

    model: object
    results: Tuple[StepResult, ...]
    artifacts: Tuple[str, ...]  # every deployable file the steps wrote, relative to out_dir
    checks: Dict[str, dict] = field(default_factory=dict)  # file -> the converters' verification of it


def _accuracy_of(spec: StepSpec, out: StepOutput, ctx: StepContext) -> Optional[float]:
    if spec.writes_keras:
        return keras_accuracy(out.model, ctx.eval)
    for rel in out.artifacts:  # the first file the step wrote, on its preferred backend
        return evaluate_artifact(os.path.join(ctx.out_dir, rel), ctx.eval).accuracy
    return None


def _save_keras(model, path: str) -> int:
    with atomic_path(path, ".keras") as tmp:
        model.save(tmp)
    return os.path.getsize(path)


def run_steps(steps: Sequence[StepSpec], model, ctx: StepContext, baseline_accuracy: Optional[float],
              max_accuracy_drop: Optional[float] = DEFAULT_MAX_DROP,
              on_step: Optional[Callable[[StepResult], None]] = None,
              save_steps: bool = True, extend: bool = True, cumulative: bool = False, start: int = 1) -> StepRun:
    """Run `steps` on `model`; returns the last model and one StepResult per step.

    `max_accuracy_drop` (points) bounds each step's loss against the accuracy before it, or with
    `cumulative` against `baseline_accuracy`; None runs unguarded. `extend=False` stops at the
    first breach instead of fine-tuning longer (the search prunes such trials). `on_step` is
    called after each step is measured (the pipeline writes the report there, so a run stopped
    later still has a report of what was done). Steps are numbered from `start`.
    """
    from .._extras import require

    keras = require("keras", "optimize")
    say = ctx.progress
    results: List[StepResult] = []
    artifacts: List[str] = []
    checks: Dict[str, dict] = {}
    accuracy = baseline_accuracy
    last = start + len(steps) - 1
    for i, spec in enumerate(steps, start=start):
        sctx = StepContext(ctx.train, ctx.calib, ctx.eval, ctx.out_dir, ctx.progress, ctx.seed + i, i)
        bound = spec.max_accuracy_drop if spec.max_accuracy_drop is not None else max_accuracy_drop
        attempt, retries = spec, 0
        t0 = time.perf_counter()
        while True:
            say(f"step {i}/{last}: {attempt.describe()}"
                + (f" (guard: again with {attempt.fine_tune_epochs} epochs)" if retries else ""))
            keras.utils.set_random_seed(sctx.seed)
            out = attempt.run(model, sctx)
            after = _accuracy_of(spec, out, sctx)
            ref = baseline_accuracy if cumulative else accuracy
            drop = None if (after is None or ref is None) else (ref - after) * 100.0
            if bound is None or drop is None or drop <= bound + 1e-9:
                break
            limit = spec.fine_tune_epochs * GUARD_FACTOR
            if not extend or not spec.trains or attempt.fine_tune_epochs == 0 or attempt.fine_tune_epochs >= limit:
                say(f"step {i}: accuracy {ref:.2%} -> {after:.2%}, more than {bound:g} points lost; stopping")
                raise AccuracyGuardError(i, spec.kind, spec.describe(), ref, after, bound,
                                         attempt.fine_tune_epochs if spec.trains else 0, results)
            say(f"step {i}: accuracy {ref:.2%} -> {after:.2%} breaks the {bound:g}-point bound; "
                "fine-tuning longer")
            attempt, retries = attempt.with_more_fine_tuning(min(limit, attempt.fine_tune_epochs * 2)), retries + 1
        step_files = list(out.artifacts)
        deployable = [os.path.join(ctx.out_dir, a) for a in out.artifacts]
        if spec.writes_keras:
            named = keras_weights(out.model)
            stem = os.path.join("steps", f"{i:02d}-{spec.kind}")
            size = _save_keras(out.model, os.path.join(ctx.out_dir, stem + ".keras")) if save_steps else 0
            if save_steps:
                step_files.insert(0, stem + ".keras")
            for write in DEPLOYABLE_WRITERS:  # also in search trials (save_steps=False): sizes are what they seek
                os.makedirs(os.path.join(ctx.out_dir, "steps"), exist_ok=True)
                deployable.append(write(out.model, os.path.join(ctx.out_dir, stem), sctx))
                step_files.append(os.path.relpath(deployable[-1], ctx.out_dir))
        else:
            from ..converters import read_weights

            tfl = [a for a in out.artifacts if a.endswith(".tflite")] or list(out.artifacts)
            named = tuple(read_weights(os.path.join(ctx.out_dir, tfl[0]))) if tfl else ()
            size = min(os.path.getsize(os.path.join(ctx.out_dir, a)) for a in out.artifacts) if out.artifacts else 0
            if DEPLOYABLE_WRITERS:  # the bundle of the step's int8 file: the deployable artifact
                os.makedirs(os.path.join(ctx.out_dir, "steps"), exist_ok=True)
                packed = bundle_artifacts(ctx.out_dir, out.artifacts, os.path.join("steps", f"{i:02d}-{spec.kind}"))
                deployable.extend(os.path.join(ctx.out_dir, a) for a in packed)
                step_files.extend(packed)
        layers = layer_values(named)
        result = StepResult(
            i, spec.kind, spec.describe(), time.perf_counter() - t0, accuracy, after, size,
            deployable_size(deployable),
            int(out.model.count_params()), round(sparsity_of(layers), 6), layers, out.epochs, retries,
            tuple(step_files), out.detail)
        results.append(result)
        artifacts.extend(out.artifacts)
        checks.update(out.checks)
        say(f"step {i}/{last} done in {result.wall_time_s:.1f} s: accuracy "
            f"{'-' if after is None else f'{after:.2%}'}, {result.sparsity:.1%} zeros, {result.parameters} parameters")
        if on_step is not None:
            on_step(result)
        model = out.model
        if after is not None and spec.writes_keras:
            accuracy = after
    return StepRun(model, tuple(results), tuple(artifacts), checks)

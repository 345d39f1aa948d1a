"""`optimize()` for an ONNX model: post-training steps on its initializers, measured through onnxruntime.

Users who come from PyTorch through ONNX have no Keras model to fine-tune, so an ONNX input runs
the post-training subset of the recipe steps (issue 7):

- `prune`: magnitude (one shot to the target, per-layer targets) or N:M / block patterns, applied to
  the Conv/Gemm/MatMul weight initializers (`edgewise.compress.onnx`);
- `cluster`: k shared values per weight (k-means, Han et al. 2016), same initializers;
- `quantize` (int8): onnxruntime's static quantization (QDQ, per-channel weights, calibrated on the
  user's samples) through the converters, verified against the float file; with `to_tflite`, also
  ONNX -> int8 TFLite through onnx2tf (the `onnx2tf` extra).

Steps that train (filter pruning, low rank, distillation, k-bit projection) are refused before
anything is written, naming the step; a prune or cluster step's `fine_tune` settings do not apply.
Accuracy is measured after every step on the eval set through onnxruntime, and the accuracy guard
holds: with no fine-tuning to extend, a step that loses more than its bound stops the run naming
the step and both accuracies (the files of earlier steps stay). The input file is only read.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import tempfile
import time
from typing import List, Optional, Tuple

import numpy as np

from ._extras import require
from .data import Dataset
from .fileio import atomic_path
from .progress import Progress, quiet
from .recipe import Recipe
from .report import schema as rs
from .steps import RecipeError, StepSpec
from .steps.measure import StepResult, deployable_size, layer_values, sparsity_of
from .steps.runner import AccuracyGuardError

ONNX_STEPS = ("prune", "cluster", "quantize")

NEEDS_TRAINING = {
    "prune_filters": "removing filters rewires the graph and needs fine-tuning to recover",
    "lowrank": "factorising layers changes the graph and needs fine-tuning to recover",
    "distill": "distillation trains a student model",
    "kbit": "k-bit weights are kept by a projection during fine-tuning",
}

ONNX_ADVICE = {
    "prune": "lower the sparsity, set lower per-layer targets (magnitude.layer_targets) or exclude the sensitive "
             "layers; there is no fine-tuning for ONNX input (prune the Keras or PyTorch model before export for that)",
    "cluster": "use more clusters, cluster per channel, or exclude the sensitive layers",
    "quantize": "use a larger, more representative calibration set, or keep the float file",
}


class OnnxAccuracyGuardError(AccuracyGuardError):
    """A post-training step on an ONNX model lost more accuracy than its bound (nothing to fine-tune)."""

    def __init__(self, step: int, kind: str, name: str, before: float, after: float, bound: float,
                 results=()):
        super().__init__(step, kind, name, before, after, bound, 0, results)
        self.args = (
            f"recipe step {step} ({kind}: {name}) dropped held-out accuracy (onnxruntime) from {before:.2%} to "
            f"{after:.2%} ({(before - after) * 100:.2f} points > the bound of {bound:g}); ONNX input has no "
            f"fine-tuning to recover, so the run stopped; files of earlier steps are kept. Try: "
            f"{ONNX_ADVICE.get(kind, 'a gentler setting for this step')}, or allow a larger drop with "
            f"--max-accuracy-drop",)


def _weight_names(proto) -> List[str]:
    from .compress.onnx import weight_initializers

    return [layer for layer, _, _ in weight_initializers(proto)]


def _check_step(spec: StepSpec, proto) -> None:
    from .compress.select import check_rules, selected

    if spec.kind in NEEDS_TRAINING or spec.kind not in ONNX_STEPS:
        why = NEEDS_TRAINING.get(spec.kind, "it has no post-training form")
        raise RecipeError(f"cannot run on an ONNX model: {why}, and ONNX models are not trained (no training for "
                          f"ONNX inputs); ONNX input takes {', '.join(ONNX_STEPS)} (int8) steps only")
    names = _weight_names(proto)
    if spec.kind == "quantize":
        if spec.mode != "int8":
            raise RecipeError(f"ONNX input is quantized to int8 (onnxruntime, QDQ) only, got {spec.mode!r}",
                              field="mode")
        return
    if not names:
        raise RecipeError("the ONNX model has no Conv/Gemm/MatMul float weight initializer to compress")
    if spec.kind == "prune" and spec.magnitude is not None:
        check_rules(names, spec.magnitude.layer_targets, "magnitude.layer_targets")
        selected(names, spec.magnitude.include, spec.magnitude.exclude, "magnitude")
    elif spec.kind == "prune":
        from .compress.onnx import prune_structured

        prune_structured(proto, spec.structured)  # shapes the pattern cannot tile are refused now, not mid-run
    else:
        selected(names, spec.cluster.include, spec.cluster.exclude, "cluster")


def check_onnx_recipe(recipe: Recipe, proto) -> None:
    """Refuse, before anything is written, a step an ONNX model cannot take (names the step and why)."""
    for i, spec in enumerate(recipe.steps, start=1):
        try:
            _check_step(spec, proto)
        except RecipeError as e:
            raise e.at(i, spec.kind) from None
        except ValueError as e:
            raise RecipeError(str(e), i, spec.kind) from None


def _save(proto, path: str) -> int:
    import onnx

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_path(path, ".onnx") as tmp:
        onnx.save(proto, tmp)
    return os.path.getsize(path)


def onnxruntime_accuracy(path: str, data: Dataset) -> float:
    """Top-1 accuracy of an ONNX file through onnxruntime; an error names the file if it cannot run."""
    from .evaluate import evaluate_backend

    r = evaluate_backend(path, "onnxruntime", data)
    if r.status != "ok":
        raise RuntimeError(f"{path}: onnxruntime cannot run it on the eval set ({r.status}: {r.error})")
    return float(r.accuracy)


def _weights(proto) -> Tuple[Tuple[str, np.ndarray], ...]:
    from .compress.onnx import initializer_arrays, weight_initializers

    arrays = initializer_arrays(proto)
    return tuple((init, arrays[init]) for _, init, _ in weight_initializers(proto))


def _transform(spec: StepSpec, proto, seed: int):
    from .compress import onnx as conx

    if spec.kind == "prune":
        if spec.magnitude is not None:
            return conx.prune_magnitude(proto, spec.magnitude)
        return conx.prune_structured(proto, spec.structured)
    return conx.cluster(proto, spec.cluster, seed)


def optimize_onnx(path: str, calib: Dataset, eval_d: Dataset, recipe: Recipe, out: str, settings,
                  progress: Progress = quiet, to_tflite: bool = False) -> rs.Report:
    """Run `recipe` (post-training steps only) on the ONNX file `path`; write artifacts and the report."""
    onnx = require("onnx", "optimize from an ONNX model")
    require("onnxruntime", "optimize from an ONNX model")
    from .pipeline import _measure, environment, write_report
    from .report import write_json

    say = progress
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such ONNX model file")
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load(path)
    except (DecodeError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a readable ONNX model ({e})") from None
    check_onnx_recipe(recipe, proto)
    recipe = as_run_on_onnx(recipe, to_tflite)
    if to_tflite:
        require("onnx2tf", "--to tflite (ONNX -> TFLite through onnx2tf)", extra="onnx2tf")
    os.makedirs(out, exist_ok=True)
    timings: List[rs.Timing] = []
    t0 = time.perf_counter()
    say("baseline accuracy (onnxruntime)")
    base_acc = onnxruntime_accuracy(path, eval_d)
    timings.append(rs.Timing("baseline accuracy (onnxruntime)", time.perf_counter() - t0, base_acc))
    params = int(sum(a.size for _, a in _weights(proto)))
    baseline = rs.Baseline(os.path.getsize(path), base_acc, params, path)

    def report(steps, artifacts=(), error="") -> rs.Report:
        return rs.Report(baseline, tuple(artifacts), tuple(steps), tuple(timings), recipe, None, None, error,
                         settings.max_accuracy_drop, settings.seed, len(eval_d), len(calib), dict(environment()),
                         _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    results: List[StepResult] = []
    checks = {}
    accuracy, source, last = base_acc, "baseline", len(recipe.steps)
    for i, spec in enumerate(recipe.steps, start=1):
        say(f"step {i}/{last}: {spec.describe()} (ONNX, post-training)")
        t0 = time.perf_counter()
        bound = spec.max_accuracy_drop if spec.max_accuracy_drop is not None else settings.max_accuracy_drop
        if spec.kind == "quantize":
            new, files, after, named, size, detail = _quantize_step(proto, out, calib, eval_d, to_tflite, checks)
        else:
            new, files, after, named, size, detail = _compress_step(spec, i, proto, eval_d, settings.seed + i)
        layers = layer_values(named)
        result = StepResult(i, spec.kind, spec.describe(), time.perf_counter() - t0, accuracy, after, size,
                            deployable_size([os.path.join(out, f) for f in files]), params,
                            round(sparsity_of(layers), 6), layers, 0, 0, tuple(files), detail)
        drop = (accuracy - after) * 100.0
        if bound is not None and drop > bound + 1e-9:
            say(f"step {i}: accuracy {accuracy:.2%} -> {after:.2%}, more than {bound:g} points lost; stopping")
            err = OnnxAccuracyGuardError(i, spec.kind, spec.describe(), accuracy, after, bound, results)
            write_report(report(results, error=str(err)), out, say)
            raise err
        if spec.kind != "quantize":
            _save(new, os.path.join(out, files[0]))
        results.append(result)
        write_json(report(results), os.path.join(out, "report.json"))
        say(f"step {i}/{last} done: accuracy {after:.2%}, {result.sparsity:.1%} zeros")
        if spec.kind != "quantize":
            proto, accuracy, source = new, after, f"step {i} ({spec.kind})"
    if "model.onnx" not in checks:  # no quantize step: the compressed float model is the result
        _save(proto, os.path.join(out, "model.onnx"))
        checks["model.onnx"] = {}

    def timed(name, fn, accuracy=None, detail=None):
        say(name)
        t = time.perf_counter()
        r = fn()
        timings.append(rs.Timing(name, time.perf_counter() - t, accuracy(r) if accuracy else None,
                                 detail(r) if detail else ""))
        return r

    from .pipeline import _ordered

    artifacts = [_measure(rel, checks[rel], out, eval_d, settings, source, timed, say) for rel in _ordered(checks)]
    r = report(results, artifacts)
    write_report(r, out, say)
    return r


def _compress_step(spec: StepSpec, index: int, proto, eval_d: Dataset, seed: int):
    """Prune or cluster the initializers; the accuracy is measured on a temporary file (kept if the guard passes)."""
    new = _transform(spec, proto, seed)
    with tempfile.TemporaryDirectory(prefix="edgewise-onnx-step-") as work:
        trial = os.path.join(work, "model.onnx")
        size = _save(new, trial)
        after = onnxruntime_accuracy(trial, eval_d)
    rel = os.path.join("steps", f"{index:02d}-{spec.kind}.onnx")
    return new, (rel,), after, _weights(new), size, "one shot on the ONNX initializers (no fine-tuning for ONNX input)"


def _quantize_step(proto, out: str, calib: Dataset, eval_d: Dataset, to_tflite: bool, checks: dict):
    """Write the float model as model.onnx, then model.int8.onnx (and model.int8.tflite): verified files."""
    from .converters import onnx_to_tflite, quantize_onnx_int8
    from .runtime.summary import weight_tensors

    float_path = os.path.join(out, "model.onnx")
    _save(proto, float_path)
    checks["model.onnx"] = {}
    written = [quantize_onnx_int8(float_path, os.path.join(out, "model.int8.onnx"), calib.x, evaluation=eval_d.x)]
    if to_tflite:
        written.append(onnx_to_tflite(float_path, os.path.join(out, "model.int8.tflite"), calib.x, precision="int8",
                                      evaluation=eval_d.x))
    files = tuple(os.path.relpath(r.path, out) for r in written)
    for f, r in zip(files, written):
        checks[f] = r.verification.to_dict()
    detail = "; ".join(f"{os.path.basename(r.path)} {r.size_bytes} bytes, verified on {r.verification.samples} "
                       "samples" for r in written)
    int8 = os.path.join(out, files[0])
    named = tuple(weight_tensors(int8))  # the int8 codes as stored
    size = min(os.path.getsize(os.path.join(out, f)) for f in files)
    return proto, files, onnxruntime_accuracy(int8, eval_d), named, size, detail


def as_run_on_onnx(recipe: Recipe, to_tflite: bool) -> Recipe:
    """The recipe as an ONNX input runs it (and the report records): quantize writes ONNX (+ TFLite if asked)."""
    formats = ("onnx", "tflite") if to_tflite else ("onnx",)
    return dataclasses.replace(recipe, steps=tuple(
        dataclasses.replace(s, formats=formats) if s.kind == "quantize" else s for s in recipe.steps))

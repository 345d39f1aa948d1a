"""`optimize()`: check the recipe -> baseline -> run the recipe's steps -> export -> evaluate -> benchmark -> report.

`optimize()` is the execution of a list of steps (a `Recipe`, see `edgewise.recipe`): it checks
the whole recipe against the model before anything trains, runs the steps under the accuracy
guard (`steps.runner`), then writes the float reference files, scores every file on every
backend, benchmarks them and writes report.json / report.html. With a `Search` it first finds
the recipe (Optuna, `edgewise.search`) that gives the smallest artifact within the bounds.
Everything lands in `out_dir` atomically; a failing step leaves the files of earlier steps.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._extras import require
from .fileio import atomic_path
from .progress import Progress, quiet
from .data import Dataset, DataError, load_npz
from .evaluate import evaluate_artifact, keras_accuracy
from .recipe import Recipe, check_recipe, load_recipe, shorthand
from .report import schema as rs
from .runtime.records import Record
from .search import Bounds, SearchSpace, run_search
from .steps import StepContext
from .steps.deploy import FINAL_BUNDLE, final_tflite, write_final_bundle
from .steps.runner import DEFAULT_MAX_DROP, AccuracyGuardError, run_steps

@dataclass(frozen=True)
class LoadedModel:
    """A Keras model and where it came from; `size_bytes` is the size of the file or folder given."""

    model: object
    source: str
    size_bytes: int


def _dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def save_baseline(model, out_dir: str) -> LoadedModel:
    """Save an in-memory model as out_dir/baseline.keras, without optimizer state (the model's size, not Adam's)."""
    from .compress.train import plain_copy

    path = os.path.join(out_dir, "baseline.keras")
    with atomic_path(path, ".keras") as tmp:
        plain_copy(model).save(tmp)
    return LoadedModel(model, path, os.path.getsize(path))


def load_keras_model(model, out_dir: str) -> LoadedModel:
    """A .keras file, a SavedModel folder or an in-memory keras.Model, as a Keras model.

    An in-memory model is returned with an empty `source` (nothing is written: see
    `save_baseline`). A SavedModel becomes a one-layer model around `keras.layers.TFSMLayer`: it
    converts and runs, but has no compressible layers (save the model as .keras to compress it).
    """
    keras = require("keras", "optimize")
    if isinstance(model, keras.Model):
        return LoadedModel(model, "", 0)
    path = os.fspath(model)
    if _is_onnx(path):
        raise ValueError(f"{path}: an ONNX model is optimized by optimize() itself (edgewise.onnx_optimize), "
                         "not loaded as Keras")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise FileNotFoundError(f"{path}: a folder but not a SavedModel (no saved_model.pb)")
        layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
        tf = require("tensorflow", "optimize")
        sig = tf.saved_model.load(path).signatures["serving_default"]
        specs = list(sig.structured_input_signature[1].values())
        if len(specs) != 1:
            raise ValueError(f"{path}: the serving signature has {len(specs)} inputs; optimize handles one")
        inp = keras.Input(shape=tuple(specs[0].shape[1:]), dtype=specs[0].dtype.name)
        out = layer(inp)
        if isinstance(out, dict):
            if len(out) != 1:
                raise ValueError(f"{path}: the serving signature has {len(out)} outputs; optimize handles one")
            out = next(iter(out.values()))
        return LoadedModel(keras.Model(inp, out, name="saved_model"), path, _dir_size(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file or SavedModel folder")
    if not path.lower().endswith(".keras"):
        raise ValueError(f"{path}: expected a .keras file or a SavedModel folder")
    return LoadedModel(keras.saving.load_model(path), path, os.path.getsize(path))


def _is_onnx(model) -> bool:
    return isinstance(model, (str, os.PathLike)) and os.fspath(model).lower().endswith(".onnx")


def _dataset(d, what: str, require_labels: bool) -> Dataset:
    if isinstance(d, Dataset):
        if require_labels:
            d.labels()
        return d
    if isinstance(d, np.ndarray):
        if require_labels:
            raise DataError(f"{what}: a bare array has no labels; pass a Dataset(x, y) or an .npz with 'y'")
        return Dataset(d, None, what)
    return load_npz(d, require_labels=require_labels)


def benchmark_local(path: str, runs: int = 50, warmup: int = 5, progress: Progress = quiet) -> rs.Benchmark:
    """Benchmark one artifact on this machine through the device harness (edgewise.device_tests.bench)."""
    from .device_tests.bench import BenchSettings, run_benchmark
    from .device_tests.errors import DeviceError

    try:
        result = run_benchmark(path, device="local", settings=BenchSettings(runs=runs, warmup=warmup, backend="auto"))
    except DeviceError as e:
        progress(f"benchmark of {os.path.basename(path)} failed: {e}")
        return rs.Benchmark("local", error=f"{type(e).__name__}: {e}")
    lat = result.latency_ms
    return rs.Benchmark(
        result.device, str(result.backend.get("name", "")), str(result.backend.get("reason", "")),
        rs.Latency(lat.p50, lat.p90, lat.p99, lat.mean, lat.std, lat.n), result.peak_rss_bytes,
        record=json.loads(json.dumps(result.to_dict())),  # as report.json will hold it (lists, not tuples)
    )


def environment() -> Tuple[Tuple[str, str], ...]:
    """Versions that decide the numbers: Python, platform, and the converter and runtime packages."""
    from importlib import metadata

    env = [("python", platform.python_version()), ("platform", platform.platform()),
           ("cpu_count", str(os.cpu_count()))]
    for dist in ("edgewise", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy"):
        try:
            env.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            env.append((dist, "not installed"))
    return tuple(sorted(env))


FORMATS = ("tflite", "onnx")


@dataclass(frozen=True)
class Settings(Record):
    """How a run exports, measures and guards (everything but the recipe and the data).

    `max_accuracy_drop`: points a step may lose on the held-out set before the guard steps in
    (None: unguarded). `sensitivity`: probe every layer first and put the table in the report.
    """

    formats: Tuple[str, ...] = FORMATS
    include_float: bool = True
    benchmark: bool = True
    bench_runs: int = 50
    max_accuracy_drop: Optional[float] = DEFAULT_MAX_DROP
    seed: int = 0
    sensitivity: bool = False

    def __post_init__(self):
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"unknown format(s) {unknown}; choose from 'tflite' and 'onnx'")
        if self.max_accuracy_drop is not None and not self.max_accuracy_drop >= 0:
            raise ValueError(f"max_accuracy_drop must be >= 0 points, got {self.max_accuracy_drop}")


@dataclass(frozen=True)
class Search(Record):
    """A budget search instead of a fixed recipe (see `edgewise.search`)."""

    bounds: Bounds = field(default_factory=Bounds)
    trials: int = 20
    storage: Optional[str] = None  # an Optuna RDB URL; default: SQLite in the output folder
    study: Optional[str] = None
    sampler: str = "tpe"
    epochs: int = 2  # fine-tuning epochs of each trial's pruning step
    max_sparsity: float = 0.95


def _recipe_of(recipe, prune, quantize, formats) -> Recipe:
    if recipe is not None and (prune is not None or quantize is not None):
        raise ValueError("give either a recipe or the --prune/--quantize shorthand, not both")
    if recipe is None:
        return shorthand(prune, quantize, formats=tuple(formats))
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return Recipe.from_dict(recipe)
    return load_recipe(recipe)


def _check_before_training(recipe: Recipe, loaded: LoadedModel, train_d: Optional[Dataset], calib_d: Dataset,
                           search: Optional[Search]) -> None:
    trains = any(s.writes_keras for s in recipe.steps) or search is not None
    if trains and loaded.source and os.path.isdir(loaded.source):
        raise ValueError(f"{loaded.source}: a SavedModel runs as one opaque TFSMLayer, which cannot be pruned or "
                         "otherwise compressed; save the model as .keras (convert-only works without steps)")
    check_recipe(recipe, loaded.model)
    if trains:
        data = train_d if train_d is not None else calib_d
        if not data.has_labels:
            raise DataError(f"{data.source}: the recipe fine-tunes on this data (the fine-tuning data: `train`, "
                            "else the calibration data) and needs its labels, array 'y'")


def optimize(
    model,
    calib: Union[str, os.PathLike, Dataset, np.ndarray],
    eval: Union[str, os.PathLike, Dataset],  # noqa: A002 - the name the CLI and docs use
    recipe: Union[Recipe, str, os.PathLike, dict, None] = None,
    *,
    train: Union[str, os.PathLike, Dataset, None] = None,
    out_dir: "str | os.PathLike" = "out",
    settings: Optional[Settings] = None,
    search: Optional[Search] = None,
    progress: Optional[Progress] = None,
    prune: Optional[float] = None,
    quantize: Optional[str] = None,
    to: Optional[str] = None,
) -> rs.Report:
    """Run `recipe` (or search for one) on `model`, measure every step, write the artifacts and the report.

    model: a .keras file, a SavedModel folder, a keras.Model, or an .onnx file (post-training steps
    only, see `edgewise.onnx_optimize`; `to="tflite"` also converts its int8 result through onnx2tf). calib: samples (an .npz with `x`)
    that set int8 ranges and verify every conversion. eval: held-out `x` and `y` for accuracy.
    train: labelled data the steps fine-tune on (default: `calib`, which then needs labels); the
    sensitivity probes run on it too (else on labelled `calib`, else on `eval`).
    settings: export, benchmark, guard and seed (`Settings`); search: find the recipe (`Search`).
    recipe: a Recipe, a .json/.yaml file or a dict; `prune`/`quantize` are the shorthand
    recipe "magnitude pruning to `prune`, then `quantize`". Returns the Report also written as
    report.json and report.html. A bad recipe is refused before anything is trained or written.
    """
    say = progress or quiet
    out = os.fspath(out_dir)
    settings = settings or Settings()
    recipe = _recipe_of(recipe, prune, quantize, settings.formats)
    calib_d = _dataset(calib, "calibration data", require_labels=False)
    eval_d = _dataset(eval, "evaluation data", require_labels=True)
    if _is_onnx(model):
        return _optimize_onnx(os.fspath(model), calib_d, eval_d, recipe, train, out, settings, search, say, to)
    if to is not None:
        raise ValueError(f"to={to!r} (--to) applies to ONNX input only; Keras input writes --formats")
    train_d = _dataset(train, "fine-tuning data", require_labels=False) if train is not None else None
    timings: List[rs.Timing] = []

    def timed(name: str, fn, accuracy=None, detail=None):
        say(name)
        t0 = time.perf_counter()
        result = fn()
        acc = accuracy(result) if accuracy else None
        timings.append(rs.Timing(name, time.perf_counter() - t0, acc, detail(result) if detail else ""))
        return result

    loaded = timed("load model", lambda: load_keras_model(model, out))
    _check_before_training(recipe, loaded, train_d, calib_d, search)
    os.makedirs(out, exist_ok=True)
    if not loaded.source:
        loaded = save_baseline(loaded.model, out)
    keras_model = loaded.model
    base_acc = timed("baseline accuracy (Keras)", lambda: keras_accuracy(keras_model, eval_d), accuracy=lambda a: a)
    baseline = rs.Baseline(loaded.size_bytes, base_acc, int(keras_model.count_params()), loaded.source)
    ctx = StepContext(train_d, calib_d, eval_d, out, say, settings.seed)

    def report(steps=(), artifacts=(), error="", table=None, summary=None, ran=True) -> rs.Report:
        return rs.Report(baseline, tuple(artifacts), tuple(steps), tuple(timings), recipe if ran else None, table,
                         summary, error,
                         settings.max_accuracy_drop, settings.seed, len(eval_d), len(calib_d), dict(environment()),
                         _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    table = None
    if settings.sensitivity or search is not None:
        from .sensitivity import analyze

        probe = train_d if train_d is not None and train_d.has_labels else (calib_d if calib_d.has_labels else eval_d)
        table = timed("sensitivity analysis (each layer alone)", lambda: analyze(keras_model, probe, progress=say),
                      detail=lambda t: f"{len(t.entries)} probes of {len(t.parameters)} layers on {t.samples} samples")
    summary = None
    if search is not None:
        space = SearchSpace(search.max_sparsity, epochs=search.epochs, keep=(keras_model.layers[-1].name,),
                            layer_targets=table.layer_targets if table is not None else None)
        summary = timed(f"budget search ({search.trials} trials)", lambda: run_search(
            keras_model, ctx, base_acc, search.bounds, search.trials, space, search.storage, search.study,
            search.sampler, say), detail=lambda s: s.message)
        best = summary.best_candidate
        if best is None or best.recipe is None:
            r = report(error=summary.message, table=table, summary=summary, ran=False)
            write_report(r, out, say)
            return r
        recipe = best.recipe
        say(f"run the best recipe: {recipe.describe()}")

    done: List = []

    def on_step(result) -> None:  # report.json after every step: a stopped run still says what it did
        from .report import write_json

        done.append(result)
        write_json(report(done, table=table, summary=summary), os.path.join(out, "report.json"))

    try:
        run = run_steps(recipe.steps, keras_model, ctx, base_acc, settings.max_accuracy_drop, on_step=on_step)
    except AccuracyGuardError as e:
        write_report(report(done, error=str(e), table=table, summary=summary), out, say)
        raise
    last_keras = max((r.index for r in run.results if r.kind != "quantize" and r.artifacts), default=0)
    source = "baseline" if not last_keras else f"step {last_keras} ({run.results[last_keras - 1].kind})"
    checks = dict(run.checks)
    checks.update(_export_float(run.model, calib_d.x, out, settings, list(checks), timed))
    artifacts = [_measure(rel, checks[rel], out, eval_d, settings, source, timed, say) for rel in _ordered(checks)]
    r = report(run.results, artifacts, table=table, summary=summary)
    write_report(r, out, say)
    final = final_tflite(checks)
    if final is not None:  # the deployable artifact: the int8 file packed, the report in its manifest
        art, sizes = timed(f"pack {final} as {FINAL_BUNDLE} and evaluate it", lambda: write_final_bundle(
            out, final, os.path.join(out, "report.json"), eval_d, next(a for a in artifacts if a.path == final)),
            accuracy=lambda a: a[1].accuracy, detail=lambda a: f"download {a[1].download_bytes} bytes, disk "
            f"{a[1].disk_bytes} bytes, weights in RAM {a[1].ram_bytes} bytes")
        r = dataclasses.replace(report(run.results, artifacts + [art], table=table, summary=summary), bundle=sizes)
        write_report(r, out, say)
    return r


def _optimize_onnx(path, calib_d, eval_d, recipe, train, out, settings, search, say, to) -> rs.Report:
    from .onnx_optimize import optimize_onnx

    for given, what in ((search is not None, "a budget search (it fine-tunes each trial)"),
                        (train is not None, "fine-tuning data (train / --train)"),
                        (settings.sensitivity, "the sensitivity analysis (it probes Keras layers)")):
        if given:
            raise ValueError(f"{path}: ONNX input runs post-training steps only; {what} needs a Keras model")
    if to not in (None, "onnx", "tflite"):
        raise ValueError(f"to must be 'onnx' or 'tflite', got {to!r}")
    return optimize_onnx(path, calib_d, eval_d, recipe, out, settings, say, to_tflite=to == "tflite")


def _conversion_detail(r) -> str:
    checks = "; ".join(
        f"{c.tensor}: {c.metric.replace('_', ' ')} {c.measured:.3g} <= {c.tolerance:.3g}"
        + (f", top-1 agreement {c.top1_agreement:.3f}" if c.top1_agreement is not None else "")
        for c in r.verification.outputs)
    return f"{r.size_bytes} bytes, {r.sparsity.overall:.1%} zeros in weights; verified on " \
           f"{r.verification.samples} samples ({checks})"


def _ordered(files: Sequence[str]) -> List[str]:
    """TFLite before ONNX, float before quantized: the order the report has always listed."""
    def key(rel):
        name = os.path.basename(rel)
        return (0 if name.endswith(".tflite") else 1, 0 if name in ("model.tflite", "model.onnx") else 1, name)
    return sorted(dict.fromkeys(files), key=key)


def _export_float(model, calib: np.ndarray, out: str, settings: Settings, written: Sequence[str],
                  timed) -> Dict[str, dict]:
    """The float32 reference files of the final model (what every compression ratio is measured against)."""
    from .converters import keras_to_onnx, keras_to_tflite

    new = {}
    if "tflite" in settings.formats and (settings.include_float or not written):
        r = timed("convert to float32 TFLite", lambda: keras_to_tflite(
            model, os.path.join(out, "model.tflite"), calib, precision="float32"), detail=_conversion_detail)
        new["model.tflite"] = r.verification.to_dict()
    if "onnx" in settings.formats and (settings.include_float or not written) and "model.onnx" not in written:
        r = timed("export to float32 ONNX", lambda: keras_to_onnx(model, os.path.join(out, "model.onnx"), calib),
                  detail=_conversion_detail)
        new["model.onnx"] = r.verification.to_dict()
    return new


def _measure(rel: str, verification: dict, out: str, eval_d: Dataset, settings: Settings, source: str, timed, say) -> rs.ArtifactReport:
    from .converters.weights import file_sparsity

    path = os.path.join(out, rel)
    name = os.path.basename(rel)
    acc = timed(f"evaluate {name} on every backend", lambda: evaluate_artifact(path, eval_d),
                accuracy=lambda a: a.accuracy, detail=lambda a: ", ".join(f"{r.backend}: {r.status}" for r in a.results))
    for r in acc.results:
        if r.status != "ok":
            say(f"{name} on {r.backend}: {r.status} ({r.error.splitlines()[0] if r.error else ''})")
    bench = None
    if settings.benchmark:
        bench = timed(f"benchmark {name} on this machine",
                      lambda: benchmark_local(path, runs=settings.bench_runs, progress=say))
    best = acc.best
    zeros = file_sparsity(path)
    fmt = "tflite" if name.endswith(".tflite") else "onnx"
    precision = "float32" if name in ("model.tflite", "model.onnx") else name.split(".")[1]
    return rs.ArtifactReport(rel, fmt, precision, os.path.getsize(path), acc.accuracy, best.backend if best else "",
                             round(zeros.overall, 6), zeros.to_dict(), verification, acc.results, bench,
                             "baseline" if source == "baseline" else source)

def write_report(report: rs.Report, out_dir: str, progress: Progress = quiet) -> None:
    """report.json, then report.html (the JSON is written even if the plotting fails)."""
    from .report import write_html, write_json

    progress("write report.json and report.html")
    write_json(report, os.path.join(out_dir, "report.json"))
    write_html(report, os.path.join(out_dir, "report.html"))

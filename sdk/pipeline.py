"""`optimize()`: baseline -> prune (fine-tune) -> convert + verify -> evaluate -> benchmark -> report.

Every step is measured where it happens: accuracy on the held-out set after the baseline, after
pruning, and for every written artifact on every backend; each step's wall time; each artifact's
size, zeros and latency. Artifacts land in `out_dir` atomically, and a failing conversion
raises ConversionError with the files written before it left intact.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ._extras import require
from .fileio import atomic_path
from .progress import Progress, quiet
from .data import Dataset, DataError, load_npz
from .evaluate import evaluate_artifact, keras_accuracy
from .report import schema as rs

ONNX_INPUT_ISSUE = "ONNX models as pipeline input (optimize from .onnx) are planned in a later issue"


@dataclass(frozen=True)
class LoadedModel:
    """A Keras model and where it came from; `size_bytes` is the size of the file or folder given."""

    model: object
    source: str
    size_bytes: int


def _dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def load_keras_model(model, out_dir: str) -> LoadedModel:
    """A .keras file, a SavedModel folder or an in-memory keras.Model, as a Keras model.

    A SavedModel becomes a one-layer model around `keras.layers.TFSMLayer`: it converts and
    runs, but has no prunable layers (save the model as .keras to prune it).
    """
    keras = require("keras", "optimize")
    if isinstance(model, keras.Model):
        # Saved without optimizer state (an uncompiled copy), so the size is the model's, not Adam's.
        path = os.path.join(out_dir, "baseline.keras")
        from .compress.prune import plain_copy

        plain = plain_copy(model)
        with atomic_path(path, ".keras") as tmp:
            plain.save(tmp)
        return LoadedModel(model, path, os.path.getsize(path))
    path = os.fspath(model)
    if path.lower().endswith(".onnx"):
        raise NotImplementedError(f"{path}: {ONNX_INPUT_ISSUE}; pass the Keras model (.keras) instead")
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


def _convert(source_model, source_name: str, calib: np.ndarray, out_dir: str, quantize: Optional[str],
             formats: Sequence[str], include_float: bool, verify, step) -> List[tuple]:
    from .converters import keras_to_onnx, keras_to_tflite, quantize_onnx_int8

    done = []
    if "tflite" in formats:
        if include_float or quantize is None:
            done.append(step("convert to float32 TFLite", lambda: keras_to_tflite(
                source_model, os.path.join(out_dir, "model.tflite"), calib, precision="float32", verify=verify)))
        if quantize == "int8":
            done.append(step("convert to int8 TFLite", lambda: keras_to_tflite(
                source_model, os.path.join(out_dir, "model.int8.tflite"), calib, precision="int8", verify=verify)))
    if "onnx" in formats:
        float_onnx = os.path.join(out_dir, "model.onnx")
        done.append(step("export to float32 ONNX", lambda: keras_to_onnx(source_model, float_onnx, calib,
                                                                          verify=verify)))
        if quantize == "int8":
            done.append(step("quantize ONNX to int8 (QDQ)", lambda: quantize_onnx_int8(
                float_onnx, os.path.join(out_dir, "model.int8.onnx"), calib, verify=verify)))
    return [(r, source_name) for r in done]


def _conversion_detail(r) -> str:
    checks = "; ".join(
        f"{c.tensor}: {c.metric.replace('_', ' ')} {c.measured:.3g} <= {c.tolerance:.3g}"
        + (f", top-1 agreement {c.top1_agreement:.3f}" if c.top1_agreement is not None else "")
        for c in r.verification.outputs)
    return f"{r.size_bytes} bytes, {r.sparsity.overall:.1%} zeros in weights; verified on " \
           f"{r.verification.samples} samples ({checks})"


def optimize(
    model,
    calib: Union[str, os.PathLike, Dataset, np.ndarray],
    eval: Union[str, os.PathLike, Dataset],  # noqa: A002 - the name the CLI and docs use
    *,
    prune: Optional[float] = None,
    quantize: Optional[str] = None,
    out_dir: "str | os.PathLike" = "out",
    progress: Optional[Progress] = None,
    train: Union[str, os.PathLike, Dataset, None] = None,
    prune_config=None,
    formats: Sequence[str] = ("tflite", "onnx"),
    include_float: bool = True,
    benchmark: bool = True,
    bench_runs: int = 50,
    verify=None,
) -> rs.Report:
    """Compress and convert `model`, measure every step, write the artifacts and `out_dir/report.json`.

    model: a .keras file, a SavedModel folder or a keras.Model. calib: samples (an .npz with `x`)
    that set int8 ranges and verify every conversion. eval: held-out `x` and `y` for accuracy.
    prune: target sparsity in [0, 1) (fine-tunes on `train`, default `calib`, which then needs
    labels). quantize: "int8" or None. Returns the Report also written as report.json and
    report.html.
    """
    from .compress import PruneConfig, prune as prune_model
    from .converters import VerifyConfig

    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be 'int8' or None, got {quantize!r}")
    if prune is not None and not 0.0 < float(prune) < 1.0:
        raise ValueError(f"prune must be a sparsity in (0, 1), got {prune!r}")
    unknown = sorted(set(formats) - {"tflite", "onnx"})
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from 'tflite' and 'onnx'")
    say = progress or quiet
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    verify = verify or VerifyConfig()
    steps: List[rs.Step] = []

    def step(name: str, fn, accuracy=None, detail=None):
        say(name)
        t0 = time.perf_counter()
        result = fn()
        acc = accuracy(result) if accuracy else None
        if detail is None and hasattr(result, "verification"):
            detail = _conversion_detail
        steps.append(rs.Step(name, time.perf_counter() - t0, acc, detail(result) if detail else ""))
        return result

    calib_d = _dataset(calib, "calibration data", require_labels=False)
    eval_d = _dataset(eval, "evaluation data", require_labels=True)
    loaded = step("load model", lambda: load_keras_model(model, out))
    keras_model = loaded.model
    base_acc = step("baseline accuracy (Keras)", lambda: keras_accuracy(keras_model, eval_d), accuracy=lambda a: a)
    baseline = rs.Baseline(loaded.size_bytes, base_acc, int(keras_model.count_params()), loaded.source)

    pruning = None
    source_model, source_name = keras_model, "baseline"
    if prune is not None:
        train_d = _dataset(train if train is not None else calib_d, "fine-tuning data", require_labels=False)
        if not train_d.has_labels:
            raise DataError(f"{train_d.source}: pruning fine-tunes on this data (the fine-tuning data: `train`, "
                            "else the calibration data) and needs its labels, array 'y'")
        if os.path.isdir(loaded.source):
            raise ValueError(f"{loaded.source}: a SavedModel runs as one opaque TFSMLayer, which cannot be pruned; "
                             "save the model as .keras to prune it (convert-only works without --prune)")
        config = prune_config or PruneConfig(float(prune))
        if abs(config.target_sparsity - float(prune)) > 1e-12:
            raise ValueError(f"prune={prune} disagrees with prune_config.target_sparsity={config.target_sparsity}")
        result = step(f"prune to {prune:.0%} sparsity with fine-tuning",
                      lambda: prune_model(keras_model, train_d.x, train_d.labels(), config),
                      accuracy=lambda r: keras_accuracy(r.model, eval_d),
                      detail=lambda r: f"{r.sparsity.overall:.1%} of {r.sparsity.total} prunable weights are zero "
                                       f"after {r.steps} fine-tuning steps")
        pruning = rs.Pruning(result.config, result.sparsity, result.steps, result.history)
        source_model, source_name = result.model, "pruned"
        with atomic_path(os.path.join(out, "pruned.keras"), ".keras") as tmp:
            result.model.save(tmp)

    converted = _convert(source_model, source_name, calib_d.x, out, quantize, formats, include_float, verify, step)

    artifacts = []
    for conv, src in converted:
        name = os.path.basename(conv.path)
        acc = step(f"evaluate {name} on every backend", lambda: evaluate_artifact(conv.path, eval_d),
                   accuracy=lambda a: a.accuracy,
                   detail=lambda a: ", ".join(f"{r.backend}: {r.status}" for r in a.results))
        for r in acc.results:
            if r.status != "ok":
                say(f"{name} on {r.backend}: {r.status} ({r.error.splitlines()[0] if r.error else ''})")
        bench = None
        if benchmark:
            bench = step(f"benchmark {name} on this machine",
                         lambda: benchmark_local(conv.path, runs=bench_runs, progress=say))
        best = acc.best
        artifacts.append(rs.ArtifactReport(
            os.path.relpath(conv.path, out), conv.format, conv.precision, conv.size_bytes,
            acc.accuracy, best.backend if best else "", conv.sparsity, conv.verification, acc.results, bench, src,
        ))

    report = rs.Report(
        baseline, tuple(artifacts), tuple(steps), pruning, len(eval_d), len(calib_d), environment(),
        _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    write_report(report, out, say)
    return report


def write_report(report: rs.Report, out_dir: str, progress: Progress = quiet) -> None:
    """report.json, then report.html (the JSON is written even if the plotting fails)."""
    from .report import write_html, write_json

    progress("write report.json and report.html")
    write_json(report, os.path.join(out_dir, "report.json"))
    write_html(report, os.path.join(out_dir, "report.html"))

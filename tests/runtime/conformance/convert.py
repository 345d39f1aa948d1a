"""Convert the conformance models with the real converters, and cache the files.

TFLite variants (all from `tf.lite.TFLiteConverter.from_keras_model`, the path users take):
  float32  - no optimisation;
  dynamic  - `Optimize.DEFAULT` without representative data: int8 weights, float activations
             quantized on the fly inside the kernels ("hybrid" / dynamic-range quantization);
  int8     - full integer: representative dataset, `TFLITE_BUILTINS_INT8` only, int8 input and
             output where the model's input is float (token ids stay int32).
ONNX variants:
  float32  - `keras.Model.export(path, format="onnx")` (tf2onnx under the hood) after one call;
  qdq      - `onnxruntime.quantization.quantize_static` of that file, QDQ format, int8 activations
             and per-channel int8 weights, MinMax calibration on the same representative data.

Files are cached under `$EDGEWISE_TEST_CACHE` (default ~/.cache/edgewise-tests), in a folder
keyed by a hash of models.py, the conversion functions below and the converter versions: editing a
builder or a conversion setting, or upgrading TensorFlow, invalidates the cache; nothing else does. Every write is atomic, so a
concurrent run (tests and benchmarks) or an interrupted conversion never leaves half a file.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import os
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterator, Optional

import numpy as np

from .models import CONFORMANCE_MODELS, ConformanceModel

TFLITE_VARIANTS = ("float32", "dynamic", "int8")
ONNX_VARIANTS = ("float32", "qdq")
CALIBRATION_SAMPLES = 16
_HERE = Path(__file__).resolve().parent
_VERSIONED = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime")


def cache_key() -> str:
    """Hash of what decides the files' bytes: the builders, the conversion code, the tool versions."""
    h = hashlib.sha256((_HERE / "models.py").read_bytes())
    for fn in (calibration_data, convert_tflite, convert_onnx, _Reader):
        h.update(inspect.getsource(fn).encode())
    h.update(f"{CALIBRATION_SAMPLES}".encode())
    for dist in _VERSIONED:
        try:
            h.update(f"{dist}=={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}==absent;".encode())
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    root = os.environ.get("EDGEWISE_TEST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgewise-tests")
    return Path(root) / f"conformance-{cache_key()}"


def prune_stale_caches(current: Path, keep_days: float = 1.0) -> None:
    """Remove other conformance-* folders untouched for `keep_days`: each key change leaves ~50 MB behind."""
    import shutil
    import time

    for old in current.parent.glob("conformance-*"):
        if old != current and old.is_dir() and time.time() - old.stat().st_mtime > keep_days * 86400:
            shutil.rmtree(old, ignore_errors=True)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def calibration_data(spec: ConformanceModel) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(1)
    for _ in range(CALIBRATION_SAMPLES):
        yield spec.input.sample(rng)


def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def convert_tflite(spec: ConformanceModel) -> Dict[str, bytes]:
    """The three TFLite variants of one model, as file contents."""
    tf = _quiet_tf()
    model = spec.build()
    out = {}
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    out["float32"] = conv.convert()

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    out["dynamic"] = conv.convert()

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x] for x in calibration_data(spec))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if spec.input.dtype == "float32":
        conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    out["int8"] = conv.convert()
    return out


class _Reader:
    """onnxruntime's CalibrationDataReader protocol: get_next() -> feed dict or None."""

    def __init__(self, spec: ConformanceModel, input_name: str):
        self._it = ({input_name: x} for x in calibration_data(spec))

    def get_next(self):
        return next(self._it, None)


def convert_onnx(spec: ConformanceModel, workdir: Path) -> Dict[str, bytes]:
    """The float ONNX export and its QDQ int8 quantization, as file contents."""
    _quiet_tf()
    import onnx
    from onnxruntime import quantization as oq

    model = spec.build()
    model(spec.input.sample(np.random.default_rng(0)))
    float_path = workdir / f"{spec.name}.onnx"
    model.export(str(float_path), format="onnx", verbose=False)
    qdq_path = workdir / f"{spec.name}.qdq.onnx"
    input_name = onnx.load(str(float_path)).graph.input[0].name
    oq.quantize_static(
        str(float_path),
        str(qdq_path),
        _Reader(spec, input_name),
        quant_format=oq.QuantFormat.QDQ,
        per_channel=True,
        activation_type=oq.QuantType.QInt8,
        weight_type=oq.QuantType.QInt8,
    )
    return {"float32": float_path.read_bytes(), "qdq": qdq_path.read_bytes()}


class ModelStore:
    """Converted conformance models by (name, format, variant), converted once and cached on disk."""

    def __init__(self, cache_dir: Optional[Path] = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if cache_dir is None:
            prune_stale_caches(self.cache_dir)

    def _file(self, name: str, fmt: str, variant: str) -> Path:
        ext = "tflite" if fmt == "tflite" else "onnx"
        return self.cache_dir / f"{name}.{variant}.{ext}"

    def path(self, name: str, fmt: str, variant: str) -> Path:
        """The cached file, converting every variant of (name, fmt) together on a miss."""
        if fmt not in ("tflite", "onnx"):
            raise ValueError(f"format must be 'tflite' or 'onnx', got {fmt!r}")
        variants = TFLITE_VARIANTS if fmt == "tflite" else ONNX_VARIANTS
        if variant not in variants:
            raise ValueError(f"{fmt} variant must be one of {variants}, got {variant!r}")
        target = self._file(name, fmt, variant)
        if target.is_file():
            return target
        spec = CONFORMANCE_MODELS[name]
        # Keras prints a page of "Saved artifact ..." per export; keep the test log readable.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "tflite":
                files = convert_tflite(spec)
            else:
                with tempfile.TemporaryDirectory(prefix="edgewise-onnx-") as tmp:
                    files = convert_onnx(spec, Path(tmp))
        for v, data in files.items():
            _atomic_write(self._file(name, fmt, v), data)
        return target

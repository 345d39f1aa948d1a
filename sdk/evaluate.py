"""Accuracy of a model file on held-out data, through edgewise.runtime, on every backend that can run it.

Each backend is measured separately because they do not compute the same thing: LiteRT and
onnxruntime use optimised (sometimes fused, sometimes reordered) kernels, the NumPy backend the
reference formulas. A backend that cannot run the file is recorded with the reason, not skipped
silently: "unsupported" when the NumPy backend lacks an op (UnsupportedOpError), "unavailable"
when the engine is not installed, "failed" when it raised another runtime error.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime.records import Record

from .data import Dataset

from edgewise.runtime.model import ENGINES_FOR_FORMAT as BACKENDS_FOR
BATCH = 128


@dataclass(frozen=True)
class BackendAccuracy(Record):
    """One backend's accuracy on one artifact, or why there is none."""

    backend: str
    status: str  # "ok", "unsupported", "unavailable", "failed"
    accuracy: Optional[float] = None
    samples: int = 0
    duration_s: float = 0.0
    reason: str = ""  # why the runtime picked this engine (BackendInfo.reason)
    library: str = ""
    error: str = ""


@dataclass(frozen=True)
class ArtifactAccuracy(Record):
    """Accuracy of one file on every backend tried, in preference order."""

    path: str
    format: str
    results: Tuple[BackendAccuracy, ...]

    _derived = ("accuracy",)

    @property
    def accuracy(self) -> Optional[float]:
        """The preferred backend's accuracy (the first that ran), or None if none did."""
        best = self.best
        return best.accuracy if best is not None else None

    @property
    def best(self) -> Optional[BackendAccuracy]:
        return next((r for r in self.results if r.status == "ok"), None)


def _batches(model, n: int) -> int:
    first = model.inputs[0].shape[0] if model.inputs[0].shape else None
    return first if isinstance(first, int) and first > 0 else min(BATCH, n)


def predict(model, x: np.ndarray) -> np.ndarray:
    """Class scores of an edgewise.runtime Model on float `x`, batched as the model's input allows.

    A model with a fixed batch size is fed chunks of exactly that size (the last one zero-padded
    and the padding dropped), so a batch-1 model runs sample by sample.
    """
    if len(model.inputs) != 1:
        raise ValueError(f"{model.source}: evaluation handles single-input models, this one has {len(model.inputs)}")
    step = _batches(model, len(x))
    outs = []
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        n = len(chunk)
        if n < step and isinstance(model.inputs[0].shape[0], int):
            chunk = np.concatenate([chunk, np.zeros((step - n,) + chunk.shape[1:], chunk.dtype)])
        y = model.run(chunk, quantize=True)[0]
        outs.append(np.asarray(y)[:n])
    return np.concatenate(outs)


def accuracy_of(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy: share of samples whose arg-max class equals the label."""
    scores = scores.reshape(len(labels), -1)
    return float(np.mean(scores.argmax(axis=1) == labels))


def evaluate_backend(path: str, backend: str, data: Dataset) -> BackendAccuracy:
    """Accuracy of `path` on one backend; a runtime that cannot run it yields a status, not an exception."""
    from .runtime import load
    from .runtime.errors import BackendUnavailableError, EdgewiseRuntimeError, UnsupportedOpError

    labels = data.labels()
    t0 = time.perf_counter()
    try:
        model = load(path, backend=backend)
        acc = accuracy_of(predict(model, data.x), labels)
    except UnsupportedOpError as e:
        return BackendAccuracy(backend, "unsupported", error=str(e), duration_s=time.perf_counter() - t0)
    except BackendUnavailableError as e:
        return BackendAccuracy(backend, "unavailable", error=str(e), duration_s=time.perf_counter() - t0)
    except EdgewiseRuntimeError as e:
        return BackendAccuracy(backend, "failed", error=f"{type(e).__name__}: {e}", duration_s=time.perf_counter() - t0)
    return BackendAccuracy(backend, "ok", acc, len(labels), time.perf_counter() - t0, model.backend.reason,
                           model.backend.library)


def evaluate_artifact(path: "str | os.PathLike", data: Dataset,
                      backends: Optional[Sequence[str]] = None) -> ArtifactAccuracy:
    """Accuracy of a .tflite/.onnx file on every backend able to read its format (or those given)."""
    from .runtime import detect_format

    path = os.fspath(path)
    with open(path, "rb") as f:
        fmt = detect_format(f.read(16), path)
    chosen = tuple(backends) if backends is not None else BACKENDS_FOR[fmt]
    return ArtifactAccuracy(path, fmt, tuple(evaluate_backend(path, b, data) for b in chosen))


def keras_accuracy(model, data: Dataset, batch_size: int = BATCH) -> float:
    """Top-1 accuracy of an in-memory Keras model."""
    scores = model.predict(data.x, batch_size=batch_size, verbose=0)
    if isinstance(scores, (list, tuple)):
        scores = scores[0]
    return accuracy_of(np.asarray(scores), data.labels())

"""Which runtimes can run a converted file: tried, not assumed.

Each runtime edgewise can drive loads the file and runs a few of the user's samples (fed through
the layout adapters, as a user's code would); its outputs are compared with the reference kernels
(LiteRT's builtin op resolver for TFLite, onnxruntime for ONNX). A runtime that raises, or whose
outputs stray from the reference by more than 2% of the output's range on average, is reported as
unsupported with the reason. This is how an int8 file with sparse tensors shows up as "not on
XNNPACK" (LiteRT's default delegate rejects it) without a table that would go stale.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from edgewise.runtime import EdgewiseRuntimeError, load

from .layout import for_model
from .result import InputLayout, RuntimeSupport
from .samples import Feeds

AGREEMENT = 0.02  # mean |difference| / (max - min of the reference output)

_CANDIDATES = {
    "tflite": (("litert-builtin", "LiteRT (builtin reference kernels)"),
               ("litert", "LiteRT default (XNNPACK delegate)"),
               ("numpy", "edgewise.runtime NumPy interpreter")),
    "onnx": (("onnxruntime", "onnxruntime (CPU)"),
             ("numpy", "edgewise.runtime NumPy interpreter")),
}


def _run(model, feeds: Feeds) -> List[np.ndarray]:
    outs: List[List[np.ndarray]] = [[] for _ in model.outputs]
    for i in range(len(next(iter(feeds.values())))):  # one sample at a time: fixed-batch files take batch 1
        for k, y in enumerate(model.run({n: a[i:i + 1] for n, a in feeds.items()}, quantize=True)):
            outs[k].append(np.asarray(y, np.float32))
    return [np.concatenate(o) for o in outs]


def _agrees(ref: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> Tuple[bool, str]:
    for k, (r, g) in enumerate(zip(ref, got)):
        span = float(r.max() - r.min()) if r.size else 0.0
        err = float(np.mean(np.abs(r - g))) if r.size else 0.0
        if r.shape != g.shape or err > AGREEMENT * max(span, 1e-6):
            return False, f"output {k} differs from the reference kernels (mean |difference| {err:.4g}, range {span:.4g})"
    return True, ""


def runtime_support(path: str, feeds: Feeds, layouts: Sequence[InputLayout],
                    label: Optional[str] = None) -> Tuple[RuntimeSupport, ...]:
    """Try each runtime on `feeds`; `label` replaces the temporary file's name in the reasons."""
    with open(path, "rb") as f:
        fmt = "tflite" if f.read(8)[4:8] == b"TFL3" else "onnx"
    name = label or path
    results = []
    reference: Optional[List[np.ndarray]] = None
    for backend, title in _CANDIDATES[fmt]:
        try:
            model = load(path, backend=backend, num_threads=1)
            outs = _run(model, for_model([s.name for s in model.inputs], feeds, layouts))
        except (EdgewiseRuntimeError, RuntimeError, ValueError, NotImplementedError, KeyError) as e:
            why = str(e).splitlines()[0][:300] if str(e) else ""
            results.append(RuntimeSupport(title, False, f"{type(e).__name__}: {why.replace(path, name)}"))
            continue
        if reference is None:
            reference = outs
            results.append(RuntimeSupport(title, True, "reference kernels; verified against the source"))
            continue
        ok, why = _agrees(reference, outs)
        results.append(RuntimeSupport(title, ok, why or f"runs and agrees with {_CANDIDATES[fmt][0][1]}"))
    return tuple(results)

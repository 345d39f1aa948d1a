"""Write golden cases for test_portable.py: model files, inputs and reference outputs.

Host only (TensorFlow, LiteRT, onnxruntime). The reference is LiteRT with
BUILTIN_WITHOUT_DEFAULT_DELEGATES for TFLite (int8 must match exactly) and onnxruntime for ONNX.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..conformance.convert import ONNX_VARIANTS, TFLITE_VARIANTS
from ..conformance.models import CONFORMANCE_MODELS
from ..conformance.oracles import litert_inputs, litert_interpreter, litert_run, ort_run, ort_session

# (conformance model, format, variant): every conformance case, which every Python the runtime
# supports must pass with the same results as on the host.
CASES = [(name, "tflite", v) for name in CONFORMANCE_MODELS for v in TFLITE_VARIANTS] + [
    (name, "onnx", v) for name in CONFORMANCE_MODELS for v in ONNX_VARIANTS
]


def _compare_mode(fmt: str, variant: str, expected: np.ndarray) -> str:
    """Integer outputs: identical to the reference. QDQ ONNX: the tolerance (and the reason for it)
    of tests/runtime/test_conformance_onnx.py, against the unfused graph. Float: 1e-5 relative."""
    if expected.dtype.kind in "iu":
        return "exact"
    if variant == "qdq":
        from ..test_conformance_onnx import QDQ_RTOL

        return f"rtol:{QDQ_RTOL}"
    return "rtol:1e-5"


def _reference(path: Path, fmt: str, variant: str, x: np.ndarray):
    if fmt == "tflite":
        return litert_run(litert_interpreter(path, builtin=True), [x])
    return ort_run(ort_session(path, optimized=(variant == "float32")), [x])


def write_goldens(out_dir: Path, store) -> Path:
    """`store` is a conformance ModelStore; returns out_dir with manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, fmt, variant in CASES:
        case_id = f"{name}.{variant}.{fmt}"
        src = store.path(name, fmt, variant)
        model_file = case_id
        shutil.copyfile(src, out_dir / model_file)
        x = CONFORMANCE_MODELS[name].input.sample(np.random.default_rng(7), batch=1)
        if fmt == "tflite":
            (x,) = litert_inputs(litert_interpreter(src, builtin=True), [x])
        ys = _reference(out_dir / model_file, fmt, variant, x)
        np.savez(out_dir / f"{case_id}.npz", x=x, **{f"y{i}": y for i, y in enumerate(ys)})
        cases.append({"id": case_id, "model": model_file, "data": f"{case_id}.npz", "n_outputs": len(ys),
                      "compare": _compare_mode(fmt, variant, ys[0])})
    (out_dir / "manifest.json").write_text(json.dumps({"cases": cases}, indent=1))
    return out_dir

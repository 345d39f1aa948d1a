"""Write golden cases for test_portable.py: model files, inputs and reference outputs.

Host only (TensorFlow, LiteRT, onnxruntime). The reference is LiteRT with
BUILTIN_WITHOUT_DEFAULT_DELEGATES for TFLite (int8 must match exactly) and onnxruntime for ONNX.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..conformance.oracles import litert_inputs, litert_interpreter, litert_run, ort_run, ort_session

# (conformance model, format, variant): the cases every Python the runtime supports must pass.
CASES = [
    ("demo_cnn", "tflite", "float32"),
    ("demo_cnn", "tflite", "int8"),
    ("mlp", "tflite", "float32"),
    ("mlp", "tflite", "int8"),
    ("demo_cnn", "onnx", "float32"),
    ("demo_cnn", "onnx", "qdq"),
]


def _compare_mode(fmt: str, variant: str) -> str:
    """int8 TFLite: identical to LiteRT's builtin kernels. QDQ ONNX: the tolerance (and the reason
    for it) of tests/runtime/test_conformance_onnx.py, against the unfused graph."""
    if fmt == "tflite" and variant == "int8":
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
    from ..conformance.models import CONFORMANCE_MODELS

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
                      "compare": _compare_mode(fmt, variant)})
    (out_dir / "manifest.json").write_text(json.dumps({"cases": cases}, indent=1))
    return out_dir

"""Write golden cases for test_portable.py: model files, inputs and reference outputs.

Host only (TensorFlow, LiteRT, onnxruntime). The reference is LiteRT with
BUILTIN_WITHOUT_DEFAULT_DELEGATES for TFLite (int8 must match exactly) and onnxruntime for ONNX.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

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
    if fmt == "tflite" and variant == "int8":
        return "exact"
    return "rtol:1e-5" if variant == "float32" else "rtol:1e-4"


def _reference(path: Path, fmt: str, x: np.ndarray):
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        it = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return [it.get_tensor(d["index"]) for d in it.get_output_details()]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


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
        if fmt == "tflite" and variant == "int8" and x.dtype == np.float32:
            from ai_edge_litert.interpreter import Interpreter

            d = Interpreter(model_path=str(src)).get_input_details()[0]
            scale, zp = d["quantization"]
            x = np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
        ys = _reference(out_dir / model_file, fmt, x)
        np.savez(out_dir / f"{case_id}.npz", x=x, **{f"y{i}": y for i, y in enumerate(ys)})
        cases.append({"id": case_id, "model": model_file, "data": f"{case_id}.npz", "n_outputs": len(ys),
                      "compare": _compare_mode(fmt, variant)})
    (out_dir / "manifest.json").write_text(json.dumps({"cases": cases}, indent=1))
    return out_dir

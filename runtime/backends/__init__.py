"""Backend selection. Each engine exposes `info`, `inputs`, `outputs` and `invoke(list) -> list`."""
from __future__ import annotations

from typing import Optional

from ..errors import BackendUnavailableError
from .bounded import BoundedEngine


def open_engine(fmt: str, data: bytes, source: str, base_dir: Optional[str], backend: str, num_threads: Optional[int],
                max_tensor_bytes: Optional[int] = None):
    """The engine for `backend`, behind a BoundedEngine; the file is parsed, bounds-checked and its
    geometry and tensor sizes validated (tflite/validate.py, onnx/validate.py) before any backend sees it."""
    if fmt == "tflite":
        from ..tflite import read_model
        from ..tflite.validate import validate

        # Parse and bounds-check the flatbuffer ourselves first: LiteRT trusts its input, and a
        # hostile file must raise here rather than crash the process inside C++.
        parsed = read_model(data, source)
        bounds = validate(parsed, source, max_tensor_bytes)
        if backend in ("auto", "litert", "litert-builtin"):
            from .litert import LiteRTEngine, find_litert

            found = find_litert()
            if found is not None:
                return BoundedEngine(
                    LiteRTEngine(found, data, source, num_threads, builtin_only=(backend == "litert-builtin")), bounds)
            if backend != "auto":
                raise BackendUnavailableError(
                    f"{source}: backend {backend!r} needs ai-edge-litert (pip install ai-edge-litert) or tflite-runtime"
                )
            reason = "auto: neither ai_edge_litert nor tflite_runtime is installed"
        elif backend == "numpy":
            reason = "requested"
        else:
            raise BackendUnavailableError(f"{source}: backend {backend!r} cannot run TFLite models")
        from .numpy_engine import NumpyEngine

        return BoundedEngine(NumpyEngine.for_tflite(parsed, source, reason, bounds, num_threads), bounds)

    if fmt == "onnx":
        from ..onnx import read_model
        from ..onnx.validate import validate

        parsed = read_model(data, source, base_dir)
        bounds = validate(parsed, source, max_tensor_bytes)
        if backend in ("auto", "onnxruntime"):
            from .ort import OrtEngine, find_onnxruntime

            found = find_onnxruntime()
            if found is not None:
                return BoundedEngine(OrtEngine(found, data, source, base_dir, num_threads), bounds)
            if backend != "auto":
                raise BackendUnavailableError(f"{source}: backend 'onnxruntime' is not installed (pip install onnxruntime)")
            reason = "auto: onnxruntime is not installed"
        elif backend == "numpy":
            reason = "requested"
        else:
            raise BackendUnavailableError(f"{source}: backend {backend!r} cannot run ONNX models")
        from .numpy_engine import NumpyEngine

        return BoundedEngine(NumpyEngine.for_onnx(parsed, source, reason, bounds, num_threads), bounds)
    raise BackendUnavailableError(f"{source}: no backend for format {fmt!r}")

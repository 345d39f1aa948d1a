"""The NumPy interpreters (edgewise.runtime.tflite / .onnx) behind the engine interface.

`num_threads` sets the thread count of NumPy's BLAS (blas_threads.py): process-wide, the last model
loaded with a count sets it; `info.options` says what is in effect."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np


class NumpyEngine:
    def __init__(self, interpreter, reason: str, num_threads: Optional[int] = None):
        from ..model import BackendInfo
        from .blas_threads import blas_threads, set_blas_threads

        self._it = interpreter
        threads = set_blas_threads(num_threads)
        blas = blas_threads()
        options = (f"BLAS {blas.kind} threads={threads}",) if blas.library else ("BLAS threads not controllable",)
        self.info = BackendInfo("numpy", reason, "edgewise.runtime", options)
        self.inputs = interpreter.inputs
        self.outputs = interpreter.outputs
        self.resizable_batch = bool(getattr(interpreter, "resizable_batch", False))

    @classmethod
    def for_tflite(cls, parsed, source: str, reason: str, bounds=None,
                   num_threads: Optional[int] = None) -> "NumpyEngine":
        from ..tflite import Interpreter

        return cls(Interpreter(parsed, source, bounds=bounds), reason, num_threads)

    @classmethod
    def for_onnx(cls, parsed, source: str, reason: str, bounds=None,
                 num_threads: Optional[int] = None) -> "NumpyEngine":
        from ..onnx import Interpreter

        return cls(Interpreter(parsed, source, bounds=bounds), reason, num_threads)

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        return self._it.invoke(feeds)

    def fast_path(self, feeds):
        inner = getattr(self._it, "fast_path", None)
        return inner(feeds) if inner is not None else None

    def invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        return self._it.invoke_all(feeds)

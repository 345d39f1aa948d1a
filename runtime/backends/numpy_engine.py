"""The NumPy interpreters (edgewise.runtime.tflite / .onnx) behind the engine interface."""
from __future__ import annotations

from typing import Dict, List

import numpy as np


class NumpyEngine:
    def __init__(self, interpreter, reason: str):
        from ..model import BackendInfo

        self._it = interpreter
        self.info = BackendInfo("numpy", reason, "edgewise.runtime")
        self.inputs = interpreter.inputs
        self.outputs = interpreter.outputs
        self.resizable_batch = bool(getattr(interpreter, "resizable_batch", False))

    @classmethod
    def for_tflite(cls, parsed, source: str, reason: str, bounds=None) -> "NumpyEngine":
        from ..tflite import Interpreter

        return cls(Interpreter(parsed, source, bounds=bounds), reason)

    @classmethod
    def for_onnx(cls, parsed, source: str, reason: str, bounds=None) -> "NumpyEngine":
        from ..onnx import Interpreter

        return cls(Interpreter(parsed, source, bounds=bounds), reason)

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        return self._it.invoke(feeds)

    def invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        return self._it.invoke_all(feeds)

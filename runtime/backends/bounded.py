"""An engine whose `invoke` first checks what the feeds' shapes make the graph allocate.

Validation at load (tflite/validate.py, onnx/validate.py) bounds every tensor for the declared
input shapes. A caller may feed other shapes (a larger batch, a symbolic dimension); before the
engine allocates anything for them, the graph's shapes are inferred again for those inputs and
every tensor is checked against the user's ceiling (runtime/limits.py), once per distinct shape.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np


class BoundedEngine:
    """Wraps an engine (NumPy, LiteRT, onnxruntime) and its load-time `bounds`."""

    def __init__(self, engine, bounds):
        self.engine = engine
        self.bounds = bounds
        self.info = engine.info
        self.inputs = engine.inputs
        self.outputs = engine.outputs
        self.resizable_batch = bool(getattr(engine, "resizable_batch", False))
        if hasattr(engine, "invoke_all"):
            self.invoke_all = self._invoke_all

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        self.bounds.check_inputs([np.shape(x) for x in feeds])
        return self.engine.invoke(feeds)

    def _invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        self.bounds.check_inputs([np.shape(x) for x in feeds])
        return self.engine.invoke_all(feeds)

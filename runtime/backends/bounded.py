"""An engine whose `invoke` first checks what the feeds' shapes make the graph allocate.

Validation at load (tflite/validate.py, onnx/validate.py) bounds every tensor for the declared
input shapes. A caller may feed other shapes (a larger batch, a symbolic dimension); before the
engine allocates anything for them, the graph's shapes are inferred again for those inputs and
every tensor is checked against the user's ceiling (runtime/limits.py), once per distinct shape.
Small integer inputs are passed by value too: a model that takes a shape or a count as an input
(ConstantOfShape, Reshape, Tile, FILL) gets that tensor's size checked before it is made.
"""
from __future__ import annotations

from typing import Dict, List, Optional

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
        self.bounds.check_inputs([np.shape(x) for x in feeds], small_int_values(feeds))
        return self.engine.invoke(feeds)

    def _invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        self.bounds.check_inputs([np.shape(x) for x in feeds], small_int_values(feeds))
        return self.engine.invoke_all(feeds)


SMALL_VALUES = 64  # integer inputs up to this many elements may be shapes or counts


def small_int_values(feeds) -> List[Optional[np.ndarray]]:
    """Each feed that is a small integer array (a shape, a count), else None."""
    out: List[Optional[np.ndarray]] = []
    for x in feeds:
        a = np.asarray(x)
        out.append(a if a.dtype.kind in "iu" and a.size <= SMALL_VALUES else None)
    return out

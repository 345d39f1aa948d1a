"""An engine whose `invoke` first checks what the feeds' shapes make the graph allocate.

Validation at load (tflite/validate.py, onnx/validate.py) bounds every tensor for the declared
input shapes. A caller may feed other shapes (a larger batch, a symbolic dimension); before the
engine allocates anything for them, the graph's shapes are inferred again for those inputs and
every tensor is checked against the user's ceiling (runtime/limits.py), once per distinct shape.
Small integer inputs are passed by value too: a model that takes a shape or a count as an input
(ConstantOfShape, Reshape, Tile, FILL) gets that tensor's size checked before it is made.

Most models never use an input's values for a shape (a token-id input feeds a GATHER, not a RESHAPE).
After a signature (dtype and shape per input) has been checked, it is remembered as *value-free*
when either no input is a small integer one, or inference for those shapes without any input
values already determines every tensor's shape: the rules return an unknown shape for a tensor
whose size needs a value they were not given, so a fully determined result proves no value can
change any size. Later calls with that signature cost one set lookup. The others (an input that is
a shape) are checked per distinct value, as before.
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
        self._value_free: set = set()  # signatures whose check does not depend on values
        if hasattr(engine, "invoke_all"):
            self.invoke_all = self._invoke_all

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        self._check(feeds)
        return self.engine.invoke(feeds)

    def fast_path(self, feeds):
        """What runs `feeds`' signature with no check at all, once it is value-free (module
        docstring) and the wrapped engine offers one; else None."""
        sig = tuple([(x.dtype, x.shape) for x in feeds])
        inner = getattr(self.engine, "fast_path", None)
        return inner(feeds) if sig in self._value_free and inner is not None else None

    def _invoke_all(self, feeds: List[np.ndarray]) -> Dict[str, np.ndarray]:
        self._check(feeds)
        return self.engine.invoke_all(feeds)

    def _check(self, feeds) -> None:
        try:
            sig = tuple([(x.dtype, x.shape) for x in feeds])
        except AttributeError:  # not arrays: the full check (np.shape / np.asarray) below
            sig = None
        if sig is not None and sig in self._value_free:
            return
        values = small_int_values(feeds)
        shapes = [np.shape(x) for x in feeds]
        self.bounds.check_inputs(shapes, values)
        if sig is not None and len(self._value_free) < MAX_VALUE_FREE and self._sizes_need_no_values(shapes, values):
            self._value_free.add(sig)

    def _sizes_need_no_values(self, shapes, values) -> bool:
        if all(v is None for v in values):
            return True
        try:
            inferred = self.bounds.infer(shapes, None)
        except Exception:  # noqa: BLE001 - without the values the rules may refuse: then values matter
            return False
        return all(s is not None for s in inferred.values())


MAX_VALUE_FREE = 64  # signatures remembered (a server fed ever-new shapes must not grow the set)


SMALL_VALUES = 64  # integer inputs up to this many elements may be shapes or counts


def small_int_values(feeds) -> List[Optional[np.ndarray]]:
    """Each feed that is a small integer array (a shape, a count), else None."""
    out: List[Optional[np.ndarray]] = []
    for x in feeds:
        a = np.asarray(x)
        out.append(a if a.dtype.kind in "iu" and a.size <= SMALL_VALUES else None)
    return out

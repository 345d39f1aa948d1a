"""onnxruntime behind the engine interface."""
from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from ..errors import ModelFormatError
from ..spec import TensorSpec

_ORT_TYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
    "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int16)": "int16", "tensor(uint16)": "uint16",
    "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
}


def find_onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    return ort, f"onnxruntime {ort.__version__}"


def _spec(arg, source: str) -> TensorSpec:
    if arg.type not in _ORT_TYPES:
        raise ModelFormatError(source, f"tensor {arg.name!r} has type {arg.type}, which edgewise does not handle")
    shape = tuple(d if isinstance(d, int) else d for d in (arg.shape or ()))
    return TensorSpec(arg.name, shape, _ORT_TYPES[arg.type])


class OrtEngine:
    def __init__(self, found, data: bytes, source: str, base_dir: Optional[str], num_threads: Optional[int]):
        from ..model import BackendInfo

        ort, library = found
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if num_threads:
            so.intra_op_num_threads = int(num_threads)
            so.inter_op_num_threads = 1
        # A path lets onnxruntime find external data next to the model (already checked to stay
        # inside the model's folder by our reader); bytes are enough otherwise.
        what = source if base_dir is not None and os.path.isfile(source) else data
        try:
            self._sess = ort.InferenceSession(what, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own pybind exception types
            raise ModelFormatError(source, f"onnxruntime could not load the model: {str(e).strip()[:500]}") from None
        self.info = BackendInfo("onnxruntime", "auto: onnxruntime is installed", library)
        self.inputs: List[TensorSpec] = [_spec(a, source) for a in self._sess.get_inputs()]
        self.outputs: List[TensorSpec] = [_spec(a, source) for a in self._sess.get_outputs()]

    resizable_batch = False  # shapes are checked against the model's own (symbolic dims pass)

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        return self._sess.run(None, {s.name: x for s, x in zip(self.inputs, feeds)})

"""LiteRT (ai_edge_litert, else tflite_runtime) behind the engine interface."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ..errors import BackendUnavailableError, EdgewiseRuntimeError, ModelFormatError
from ..spec import Quantization, TensorSpec

BUILTIN_ONLY = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"


def find_litert():
    """(interpreter module, "library version") of the first LiteRT flavour installed, or None."""
    try:
        from ai_edge_litert import interpreter as mod
        import ai_edge_litert as pkg

        return mod, f"ai_edge_litert {getattr(pkg, '__version__', '')}".strip()
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod
        import tflite_runtime as pkg

        return mod, f"tflite_runtime {getattr(pkg, '__version__', '')}".strip()
    except ImportError:
        return None


def _spec(d: dict) -> TensorSpec:
    sig = d.get("shape_signature", d["shape"])
    shape = tuple(None if int(s) < 0 else int(s) for s in sig)
    qp = d.get("quantization_parameters") or {}
    scales = qp.get("scales", np.zeros(0))
    quant = None
    if len(scales):
        axis = int(qp.get("quantized_dimension", 0)) if len(scales) > 1 else None
        quant = Quantization(tuple(float(s) for s in scales), tuple(int(z) for z in qp["zero_points"]), axis)
    return TensorSpec(d["name"], shape, np.dtype(d["dtype"]).name, quant)


class LiteRTEngine:
    resizable_batch = True

    def __init__(self, found, data: bytes, source: str, num_threads: Optional[int], builtin_only: bool = False):
        from ..model import BackendInfo

        mod, library = found
        self._mod = mod
        self._data = data
        self._source = source
        self._num_threads = num_threads
        options: tuple = ()
        reason = "requested" if builtin_only else "auto: LiteRT is installed"
        if builtin_only:
            self._it = self._prepare(builtin_only=True)
            options = (BUILTIN_ONLY,)
        else:
            try:
                self._it = self._make(builtin_only=False)
            except (RuntimeError, ValueError) as e:
                # int8 models with sparse tensors make XNNPACK refuse to prepare; the builtin
                # kernels run them. Say so rather than failing or hiding it.
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                self._it = self._prepare(builtin_only=True)
                options = (BUILTIN_ONLY,)
                reason += f"; the default delegate could not prepare the model ({first}), so builtin kernels run it"
        self.info = BackendInfo("litert", reason, library, options)
        self.inputs: List[TensorSpec] = [_spec(d) for d in self._it.get_input_details()]
        self.outputs: List[TensorSpec] = [_spec(d) for d in self._it.get_output_details()]
        self._in_idx = [d["index"] for d in self._it.get_input_details()]
        self._out_idx = [d["index"] for d in self._it.get_output_details()]

    def _make(self, builtin_only: bool):
        kwargs = {"model_content": self._data}
        if self._num_threads:
            kwargs["num_threads"] = int(self._num_threads)
        if builtin_only:
            kwargs["experimental_op_resolver_type"] = self._mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            it = self._mod.Interpreter(**kwargs)
        except ValueError as e:
            raise ModelFormatError(self._source, f"LiteRT refused the model: {e}") from None
        it.allocate_tensors()
        return it

    def _prepare(self, builtin_only: bool):
        try:
            return self._make(builtin_only)
        except RuntimeError as e:
            raise BackendUnavailableError(f"{self._source}: LiteRT could not prepare the model: {str(e).strip()[:500]}") from None

    def invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        try:
            return self._invoke(feeds)
        except (RuntimeError, ValueError) as e:
            raise EdgewiseRuntimeError(f"{self._source}: LiteRT failed to run the model: {str(e).strip()[:500]}") from None

    def _invoke(self, feeds: List[np.ndarray]) -> List[np.ndarray]:
        it = self._it
        resized = False
        for idx, d, x in zip(self._in_idx, it.get_input_details(), feeds):
            if tuple(d["shape"]) != x.shape:
                it.resize_tensor_input(idx, list(x.shape), strict=False)
                resized = True
        if resized:
            it.allocate_tensors()
        for idx, x in zip(self._in_idx, feeds):
            it.set_tensor(idx, x)
        it.invoke()
        return [it.get_tensor(i) for i in self._out_idx]

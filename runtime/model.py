"""`load()` and `Model`: the API users embed, the same over every backend.

A backend only has to map a list of arrays (in input order, already checked against the specs)
to a list of arrays (in output order). Everything a caller can get wrong (which input is which,
dtypes, shapes, quantizing float data for an int8 model) is handled once, here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import BackendUnavailableError, InputError, ModelFormatError
from .records import Record
from .spec import TensorSpec

# The one list of backends (`load(backend=...)`, the CLI's --backend, bench settings), and which
# engines run each format (what evaluation compares: "litert-builtin" is LiteRT with other kernels).
BACKENDS = ("auto", "numpy", "litert", "litert-builtin", "onnxruntime")
ENGINES_FOR_FORMAT = {"tflite": ("litert", "numpy"), "onnx": ("onnxruntime", "numpy")}
MAX_MODEL_BYTES = 2 << 30  # FlatBuffers and protobuf both stop at 2 GiB
BUNDLE_MAGIC = b"\x89EWB\r\n\x1a\n"  # edgewise.runtime.bundle.MAGIC, without importing the decoder


@dataclass(frozen=True)
class BackendInfo(Record):
    """Which engine runs the model, and why it was chosen."""

    name: str  # "numpy", "litert" (ai_edge_litert or tflite_runtime), "onnxruntime"
    reason: str
    library: str = ""  # e.g. "ai_edge_litert 2.3.0"
    options: Tuple[str, ...] = ()  # e.g. ("BUILTIN_WITHOUT_DEFAULT_DELEGATES",)

    def __str__(self) -> str:
        extra = f" [{', '.join(self.options)}]" if self.options else ""
        lib = f" ({self.library})" if self.library else ""
        return f"{self.name}{lib}{extra}: {self.reason}"


def detect_format(data: bytes, source: str) -> str:
    """'tflite' or 'onnx', from the bytes (the extension is only a tie-breaker)."""
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return "tflite"
    if len(data) < 8:
        raise ModelFormatError(source, f"file is {len(data)} bytes long, too short to be a model")
    if source.lower().endswith(".tflite"):
        raise ModelFormatError(source, f"not a TFLite flatbuffer: identifier is {bytes(data[4:8])!r}, expected b'TFL3'")
    # An ONNX ModelProto starts with a protobuf key: field 1..20, wire type 0 (varint) or 2 (bytes).
    first = data[0]
    if (first & 7) in (0, 2) and 1 <= (first >> 3) <= 20:
        return "onnx"
    raise ModelFormatError(source, "neither a TFLite flatbuffer (no 'TFL3' identifier) nor an ONNX protobuf")


def read_source(path_or_bytes) -> "tuple[bytes, str, Optional[str]]":
    """(bytes, source name for errors, folder for external data) of a model path or its bytes; size-checked."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), "<bytes>", None
    path = os.fspath(path_or_bytes)
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise ModelFormatError(path, f"cannot read model file: {e.strerror or e}") from None
    if size > MAX_MODEL_BYTES:
        raise ModelFormatError(path, f"file is {size} bytes, over the 2 GiB limit of the format")
    with open(path, "rb") as f:
        return f.read(), path, os.path.dirname(os.path.abspath(path))


class Model:
    """A loaded model. Use `run()`; read `inputs`, `outputs` and `backend`.

    One Model runs one inference at a time (the NumPy backend reuses scratch buffers between runs,
    as LiteRT's interpreter reuses its tensors): load one Model per thread.
    """

    def __init__(self, engine, fmt: str, source: str):
        self._engine = engine
        self.format = fmt
        self.source = source
        self.inputs: List[TensorSpec] = list(engine.inputs)
        self.outputs: List[TensorSpec] = list(engine.outputs)
        self.backend: BackendInfo = engine.info
        # (dtype, shape) per input of calls whose arrays went to the engine untouched -> what runs
        # them: a call with the same signature skips the checks and conversions of _prepare and the
        # engine's own per-call checks (one dict lookup).
        self._direct: dict = {}

    def __repr__(self) -> str:
        return f"<edgewise Model {self.source} ({self.format}) on {self.backend.name}>"

    def run(
        self,
        x: Union[np.ndarray, Sequence[np.ndarray], Mapping[str, np.ndarray]],
        *,
        quantize: bool = False,
        keep_intermediates: bool = False,
    ) -> Union[List[np.ndarray], Dict[str, np.ndarray]]:
        """Run one inference and return the outputs as a list, in `self.outputs` order.

        `x` is one array (single-input models), a list in `self.inputs` order, or a dict by
        input name. With `quantize=True`, float arrays given for quantized (int8/uint8) inputs
        are quantized with the input's scale and zero point, and quantized outputs come back
        dequantized to float32; without it, a float array for an int8 input is an error.

        `keep_intermediates=True` (NumPy backend only) returns a dict of every tensor by name.
        """
        if not keep_intermediates:
            hit = self._fast(x)
            if hit is not None:
                feeds, runner = hit
                outs = runner(feeds)
                return [_dequantize(spec, o) for spec, o in zip(self.outputs, outs)] if quantize else outs
        given = self._bind(x)
        feeds = [self._prepare(spec, arr, quantize) for spec, arr in zip(self.inputs, given)]
        if keep_intermediates:
            if not hasattr(self._engine, "invoke_all"):
                raise BackendUnavailableError(
                    f"{self.source}: keep_intermediates=True needs the NumPy backend (this model runs on {self.backend.name}); "
                    "load it with backend='numpy'"
                )
            return self._engine.invoke_all(feeds)
        outs = self._engine.invoke(feeds)
        if all(f is a for f, a in zip(feeds, given)) and len(self._direct) < MAX_PASSTHROUGH:
            # these arrays went to the engine untouched, and it has run them: a later call with the
            # same signature goes straight to what the engine prepared for it (fast_path), if anything
            fast = getattr(self._engine, "fast_path", None)
            self._direct[tuple([(f.dtype, f.shape) for f in feeds])] = (fast(feeds) if fast else None) or \
                self._engine.invoke
        if quantize:
            outs = [_dequantize(spec, o) for spec, o in zip(self.outputs, outs)]
        return outs

    # -- input handling, shared by every backend -------------------------------------------
    def _fast(self, x):
        """(the arrays as they are, the engine's runner for them) when an earlier call with the same
        dtypes and shapes passed _prepare unchanged (C-contiguous arrays of the input dtypes) and
        ran; else None (the full path)."""
        if type(x) is np.ndarray:
            xs = [x]
        elif type(x) is list or type(x) is tuple:
            xs = list(x)
            if not all(type(a) is np.ndarray for a in xs):
                return None
        else:
            return None
        if len(xs) != len(self.inputs) or not all(a.flags.c_contiguous for a in xs):
            return None
        runner = self._direct.get(tuple([(a.dtype, a.shape) for a in xs]))
        return None if runner is None else (xs, runner)

    def _bind(self, x) -> List[np.ndarray]:
        names = [s.name for s in self.inputs]
        if isinstance(x, Mapping):
            unknown = sorted(set(x) - set(names))
            if unknown:
                raise InputError(f"{self.source}: unknown input name(s) {unknown}; the model's inputs are {names}")
            missing = [n for n in names if n not in x]
            if missing:
                raise InputError(f"{self.source}: missing input(s) {missing}")
            return [x[n] for n in names]
        if isinstance(x, (list, tuple)):
            if len(x) != len(names):
                raise InputError(f"{self.source}: got {len(x)} arrays for {len(names)} inputs {names}")
            return list(x)
        if len(names) != 1:
            raise InputError(f"{self.source}: the model has {len(names)} inputs {names}; pass a list or a dict")
        return [x]

    def _prepare(self, spec: TensorSpec, arr, quantize: bool) -> np.ndarray:
        a = np.asarray(arr)
        want = spec.np_dtype
        if a.dtype != want:
            if spec.is_quantized and a.dtype.kind == "f":
                if not quantize:
                    raise InputError(
                        f"{self.source}: input {spec.name!r} is {spec.dtype} (scale {spec.quantization.scale[0]:.6g}, "
                        f"zero point {spec.quantization.zero_point[0]}) but got {a.dtype}; quantize it yourself or "
                        "pass quantize=True"
                    )
                a = _quantize(spec, a)
            elif a.dtype.kind == want.kind or (a.dtype.kind in "iu" and want.kind in "iu"):
                info = np.iinfo(want) if want.kind in "iu" else None
                if info is not None and a.size and (a.min() < info.min or a.max() > info.max):
                    raise InputError(f"{self.source}: input {spec.name!r} has values outside the range of {spec.dtype}")
                a = a.astype(want)
            else:
                raise InputError(f"{self.source}: input {spec.name!r} expects {spec.dtype}, got {a.dtype}")
        if len(a.shape) != len(spec.shape):
            raise InputError(
                f"{self.source}: input {spec.name!r} expects rank {len(spec.shape)} {_fmt_shape(spec.shape)}, "
                f"got shape {tuple(a.shape)}"
            )
        for i, (want_d, got) in enumerate(zip(spec.shape, a.shape)):
            if isinstance(want_d, int) and want_d >= 0 and want_d != got and not (i == 0 and self._engine_resizable()):
                raise InputError(
                    f"{self.source}: input {spec.name!r} expects shape {_fmt_shape(spec.shape)}, got {tuple(a.shape)}"
                )
        return np.ascontiguousarray(a)

    def _engine_resizable(self) -> bool:
        return bool(getattr(self._engine, "resizable_batch", False))


MAX_PASSTHROUGH = 16  # input signatures remembered by Model._fast


def _fmt_shape(shape) -> str:
    return "(" + ", ".join("?" if d is None or (isinstance(d, int) and d < 0) else str(d) for d in shape) + ")"


def _params(spec: TensorSpec, ndim: int, dtype) -> "tuple[np.ndarray, np.ndarray]":
    """Scale and zero point as arrays broadcastable against a tensor of rank `ndim`."""
    q = spec.quantization
    scale = np.asarray(q.scale, dtype)
    zp = np.asarray(q.zero_point, dtype)
    if q.per_channel:
        shape = [1] * ndim
        shape[q.axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return scale, zp


def _quantize(spec: TensorSpec, a: np.ndarray) -> np.ndarray:
    """q = clip(round(x / scale) + zero_point), halves rounded to even (np.round)."""
    info = np.iinfo(spec.np_dtype)
    scale, zp = _params(spec, a.ndim, np.float64)
    return np.clip(np.round(a / scale) + zp, info.min, info.max).astype(spec.np_dtype)


def _dequantize(spec: TensorSpec, a: np.ndarray) -> np.ndarray:
    if not spec.is_quantized:
        return a
    scale, zp = _params(spec, a.ndim, np.float32)
    return ((a.astype(np.float32) - zp) * scale).astype(np.float32)


def load(path_or_bytes, backend: str = "auto", num_threads: Optional[int] = None,
         max_tensor_bytes: Optional[int] = None) -> Model:
    """Load a .tflite, .onnx or .ewb bundle (a path or the file's bytes) onto a backend.

    backend: "auto", "numpy", "litert", "litert-builtin" (LiteRT with BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    the reference kernels) or "onnxruntime". "auto" prefers LiteRT (ai_edge_litert, then tflite_runtime) for TFLite and
    onnxruntime for ONNX, and falls back to the NumPy backend when they are not installed.
    `model.backend` tells which one was chosen and why.

    Before any backend sees the file, every op's geometry is validated and every tensor's size is
    bounded (runtime/limits.py): by the model's own sizes and by `max_tensor_bytes`, else the
    environment variable EDGEWISE_MAX_TENSOR_BYTES, else 1 GiB; a violation is a ModelFormatError.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    data, source, base_dir = read_source(path_or_bytes)
    if data[:8] == BUNDLE_MAGIC:  # an .ewb bundle: decode (checked) to the model file it holds
        from .bundle import decode_model, env_key

        data = decode_model(data, env_key(), source=source)
        base_dir = None  # a bundle holds the whole model: backends take the decoded bytes, never the path
    fmt = detect_format(data, source)
    from . import backends

    engine = backends.open_engine(fmt, data, source, base_dir, backend, num_threads, max_tensor_bytes)
    return Model(engine, fmt, source)

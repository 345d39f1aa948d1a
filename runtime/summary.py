"""What a .tflite, .onnx or .ewb file holds (`edgewise inspect`), read with the runtime's own parsers.

NumPy + stdlib like the rest of the runtime, so it works on a device as well as on the host, and
the converters and the bundle writer read weights and specs through it.
A bundle is decoded in memory and summarised like the model it holds, plus its members, the
coding chosen for each tensor, and the three sizes: download (the .ewb), disk once unpacked,
and weights in RAM at run time.
"Weights" are the constant tensors of rank >= 2 (kernels and matrices; biases and shape constants
are left out); their sparsity is the fraction of elements exactly zero in the stored values, which
is what pruning must leave in the deployed file.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, replace
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from .bundle import is_bundle
from .model import detect_format, read_source
from .records import Record
from .spec import Quantization, TensorSpec


@dataclass(frozen=True)
class WeightInfo(Record):
    name: str
    shape: Tuple[int, ...]
    dtype: str
    sparsity: float
    per_channel: bool = False
    stored_sparse: bool = False  # TFLite sparsity metadata: only non-zeros are in the file


@dataclass(frozen=True)
class MemberInfo(Record):
    name: str
    coding: str
    stored_bytes: int
    decoded_bytes: int


@dataclass(frozen=True)
class TensorCoding(Record):
    name: str
    layout: str
    codings: Tuple[str, ...]  # "role:coding" per stream
    nbytes: int  # decoded
    coded_bytes: int  # codebook + streams
    codebook: int = 0


@dataclass(frozen=True)
class BundleInfo(Record):
    """What a .ewb adds to the model it holds."""

    name: str
    edgewise_version: str
    download_bytes: int  # the .ewb file
    disk_bytes: int  # the model once unpacked
    ram_bytes: int  # constants in memory at run time, dense (constant_bytes)
    manifest_bytes: int  # as stored
    signed: bool
    model_sha256: str
    members: Tuple[MemberInfo, ...]
    tensors: Tuple[TensorCoding, ...]
    recipe: Optional[dict] = None
    report: Optional[dict] = None


@dataclass(frozen=True)
class ModelSummary(Record):
    path: str
    format: str
    size_bytes: int
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]
    ops: Dict[str, int]
    weights: Tuple[WeightInfo, ...]
    constant_elements: int
    dtypes: Dict[str, int]  # tensor count per dtype
    producer: str = ""
    bundle: Optional[BundleInfo] = None

    _derived = ("op_count", "weight_elements", "weight_sparsity", "quantization")

    @property
    def op_count(self) -> int:
        return sum(self.ops.values())

    @property
    def weight_elements(self) -> int:
        return sum(int(np.prod(w.shape)) for w in self.weights)

    @property
    def weight_sparsity(self) -> float:
        total = self.weight_elements
        zeros = sum(w.sparsity * int(np.prod(w.shape)) for w in self.weights)
        return zeros / total if total else 0.0

    @property
    def quantization(self) -> str:
        kinds = {w.dtype for w in self.weights}
        if not kinds:
            return "none"
        if kinds <= {"int8", "uint8"}:
            if all(s.is_quantized for s in self.inputs) or self.ops.get("QuantizeLinear", 0):
                return "int8 (full integer)" if self.format == "tflite" else "int8 (QDQ)"
            return "int8 weights"
        if kinds & {"int8", "uint8"}:
            return "mixed"
        return "none (" + ", ".join(sorted(kinds)) + ")"


WEIGHT_DTYPES = ("float32", "float16", "int8", "uint8")


def _sparsity(a: np.ndarray) -> float:
    return float(np.count_nonzero(a == 0)) / a.size if a.size else 0.0


def _is_weight(a: np.ndarray) -> bool:
    return a.ndim >= 2 and a.dtype.name in WEIGHT_DTYPES


def _tflite_constants(m) -> Iterator[Tuple[object, np.ndarray]]:
    for g in m.subgraphs:
        for t in g.tensors:
            if t.is_constant:
                yield t, t.dense_value()  # sparse-encoded tensors are densified: their zeros count


def _onnx_constants(m) -> Iterator[Tuple[str, np.ndarray]]:
    for name in m.initializers:
        yield name, m.initializers[name]
    for node in m.nodes:
        if node.op_type == "Constant" and isinstance(node.attributes.get("value"), np.ndarray):
            yield node.outputs[0], node.attributes["value"]


def weight_tensors(path: "str | os.PathLike") -> List[Tuple[str, np.ndarray]]:
    """(name, dense array) of every weight tensor stored in a .tflite or .onnx file.

    Sparsity only pays if the zeros are in the deployed file, so it is measured there.
    """
    data, source, base_dir = read_source(os.fspath(path))
    if detect_format(data, source) == "tflite":
        from .tflite import read_model

        return [(t.name, a) for t, a in _tflite_constants(read_model(data, source)) if _is_weight(a)]
    from .onnx import read_model as read_onnx

    return [(n, a) for n, a in _onnx_constants(read_onnx(data, source, base_dir)) if _is_weight(a)]


def constant_bytes(data: bytes, source: str, base_dir: Optional[str] = None) -> int:
    """Bytes of every constant of a .tflite or .onnx model once loaded: dense, as a runtime holds
    them (TFLite tensors stored sparse are densified; a pruned model's zeros take their full width),
    whatever the file or a bundle stores. The "RAM" of the three sizes a bundle reports."""
    if detect_format(data, source) == "tflite":
        from .tflite import read_model

        return sum(a.nbytes for _, a in _tflite_constants(read_model(data, source)))
    from .onnx import read_model as read_onnx

    return sum(a.nbytes for _, a in _onnx_constants(read_onnx(data, source, base_dir)))


def _tflite_summary(data: bytes, path: str) -> ModelSummary:
    from .tflite import read_model

    m = read_model(data, path)
    sg = m.main

    def spec(i: int) -> TensorSpec:
        t = sg.tensors[i]
        q = t.quantization
        quant = None
        if q is not None and len(q.scale):
            quant = Quantization(tuple(q.scale), tuple(q.zero_point), q.quantized_dimension if q.per_channel else None)
        shape = tuple(None if d < 0 else d for d in (t.shape_signature or t.shape))
        return TensorSpec(t.name, shape, t.dtype, quant)

    ops = Counter(m.operator_codes[op.opcode_index].op for g in m.subgraphs for op in g.operators)
    weights: List[WeightInfo] = []
    const = 0
    for t, value in _tflite_constants(m):
        const += value.size
        if _is_weight(value):
            per_channel = t.quantization is not None and t.quantization.per_channel
            weights.append(WeightInfo(t.name, tuple(value.shape), t.dtype, _sparsity(value), per_channel,
                                      t.sparsity is not None))
    dtypes = Counter(t.dtype for g in m.subgraphs for t in g.tensors)
    return ModelSummary(path, "tflite", len(data), tuple(spec(i) for i in sg.inputs), tuple(spec(i) for i in sg.outputs),
                        dict(ops.most_common()), tuple(weights), const, dict(dtypes), m.description)


def _onnx_summary(data: bytes, path: str, base_dir) -> ModelSummary:
    from .onnx import read_model

    m = read_model(data, path, base_dir)

    def spec(v) -> TensorSpec:
        shape = tuple(v.shape) if v.shape is not None else ()
        return TensorSpec(v.name, shape, v.dtype or "unknown")

    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in m.nodes)
    weights: List[WeightInfo] = []
    const = 0
    for name, value in _onnx_constants(m):
        const += value.size
        if _is_weight(value):
            weights.append(WeightInfo(name, tuple(value.shape), str(value.dtype), _sparsity(value)))
    dtypes = Counter(str(m.initializers[n].dtype) for n in m.initializers)
    producer = f"{m.producer_name} {m.producer_version}".strip()
    opset = m.opset_imports.get("", m.opset_imports.get("ai.onnx"))
    if opset is not None:
        producer += f", opset {opset}"
    return ModelSummary(path, "onnx", len(data), tuple(spec(v) for v in m.inputs), tuple(spec(v) for v in m.outputs),
                        dict(ops.most_common()), tuple(weights), const, dict(dtypes), producer)


def inspect_model(path: str) -> ModelSummary:
    data, source, base_dir = read_source(path)
    if is_bundle(data):
        return _bundle_summary(data, source)
    fmt = detect_format(data, source)
    if fmt == "tflite":
        return _tflite_summary(data, source)
    return _onnx_summary(data, source, base_dir)


def _bundle_summary(data: bytes, path: str) -> ModelSummary:
    from .bundle import decode_container, read_bundle
    from .bundle.container import HEADER

    c = read_bundle(data, source=path)
    model = decode_container(c)
    m = c.manifest
    inner = _tflite_summary(model, path) if m.model.format == "tflite" else _onnx_summary(model, path, None)
    tensors = tuple(
        TensorCoding(t.name, t.layout, tuple(f"{s.role}:{s.coding}" for s in t.streams), t.nbytes,
                     t.codebook_size * t.width + sum(s.size for s in t.streams), t.codebook_size)
        for t in m.tensors
    )
    info = BundleInfo(
        m.name, m.edgewise_version, len(data), m.model.size, constant_bytes(model, path),
        c.payload_start - HEADER.size,
        c.signed, m.model.sha256, tuple(MemberInfo(x.name, x.coding, x.size, x.decoded_size) for x in m.members),
        tensors, m.recipe, m.report,
    )
    return replace(inner, size_bytes=len(data), bundle=info)


def _shape(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _tensor_line(s: TensorSpec) -> str:
    q = ""
    if s.quantization is not None:
        qq = s.quantization
        q = (f"  scale {qq.scale[0]:.6g} zero point {qq.zero_point[0]}" if not qq.per_channel
             else f"  per-channel ({len(qq.scale)} scales, axis {qq.axis})")
    return f"  {s.name}: {_shape(s.shape)} {s.dtype}{q}"


def format_summary(s: ModelSummary) -> str:
    kind = s.format if s.bundle is None else f".ewb bundle ({s.format} model)"
    lines = [f"{os.path.basename(s.path)}: {kind}, {s.size_bytes:,} bytes" + (f" ({s.producer})" if s.producer else "")]
    lines.append("inputs:")
    lines += [_tensor_line(t) for t in s.inputs]
    lines.append("outputs:")
    lines += [_tensor_line(t) for t in s.outputs]
    lines.append(f"ops ({sum(s.ops.values())}): " + ", ".join(f"{k} x{v}" for k, v in s.ops.items()))
    lines.append(f"quantization: {s.quantization}")
    lines.append(f"weights: {s.weight_elements:,} elements in {len(s.weights)} tensors, "
                 f"sparsity {s.weight_sparsity:.1%} (constants in all: {s.constant_elements:,} elements)")
    for w in s.weights:
        flags = ", per-channel" if w.per_channel else ""
        flags += ", stored sparse" if w.stored_sparse else ""
        lines.append(f"  {w.name}: {_shape(w.shape)} {w.dtype}, {w.sparsity:.1%} zeros{flags}")
    if s.bundle is not None:
        lines += _bundle_lines(s.bundle)
    return "\n".join(lines)


def _bundle_lines(b: BundleInfo) -> List[str]:
    lines = [f"bundle {b.name!r} (edgewise {b.edgewise_version}){', signed (HMAC-SHA256)' if b.signed else ''}",
             f"sizes: download {b.download_bytes:,} bytes (.ewb), disk {b.disk_bytes:,} bytes (unpacked model), "
             f"RAM {b.ram_bytes:,} bytes (weights at run time)",
             f"members: manifest {b.manifest_bytes:,} bytes; " + "; ".join(
                 f"{m.name} {m.stored_bytes:,} bytes ({m.coding}, {m.decoded_bytes:,} decoded)" for m in b.members)]
    lines.append(f"coded tensors ({len(b.tensors)}):")
    for t in b.tensors:
        book = f", codebook {t.codebook}" if t.codebook else ""
        ratio = t.nbytes / t.coded_bytes if t.coded_bytes else float("inf")
        lines.append(f"  {t.name}: {t.layout}{book} [{', '.join(t.codings)}] {t.nbytes:,} -> {t.coded_bytes:,} bytes "
                     f"({ratio:.1f}x)")
    return lines

"""The TFLite model as plain Python objects: subgraphs, tensors (with views of their weights), operators.

`read_model()` walks the whole FlatBuffer once and validates it (identifier, every offset, buffer sizes
against shape x dtype or the sparsity metadata, opcode and tensor indices), so that nothing later has
to distrust the file. Weights are never decoded: a tensor's `data` is a NumPy view into the file bytes.
"""
from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

import numpy as np

from . import schema
from .flatbuf import Buffer, Table
from .sparsity import Sparsity, densify, read_sparsity

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization of one tensor: real = scale * (q - zero_point), per channel along
    `quantized_dimension` when there are several scales."""

    scale: Tuple[float, ...]
    zero_point: Tuple[int, ...]
    quantized_dimension: int = 0
    min: Tuple[float, ...] = ()
    max: Tuple[float, ...] = ()

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph. `data` is the raw constant (flat for sparse tensors), else None."""

    subgraph: int
    index: int
    name: str
    shape: Tuple[int, ...]
    shape_signature: Tuple[int, ...]
    dtype: str  # a NumPy dtype name, or the TFLite type in lower case when NumPy has none ("string", "int4")
    type_name: str  # the TFLite TensorType, e.g. "INT8"
    buffer: int
    data: Optional[np.ndarray]
    quantization: Optional[QuantParams]
    sparsity: Optional[Sparsity]
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    def dense_value(self) -> np.ndarray:
        """The constant's value in its declared shape; sparse tensors are densified
        (TFLite sparsity: traversal_order, block_map, dim_metadata)."""
        if self.data is None:
            raise ValueError(f"tensor {self.name!r} has no constant data")
        if self.sparsity is not None:
            return densify(self.data, self.shape, self.sparsity)
        return self.data.reshape(self.shape)

    def describe(self) -> str:
        return f"subgraph {self.subgraph}, tensor {self.index} ({self.name!r})"


@dataclass(frozen=True)
class Operator:
    """One node. `op` is the builtin name ("CONV_2D") or "CUSTOM" (then `custom_code` names it);
    input index -1 marks an omitted optional input."""

    subgraph: int
    index: int
    opcode_index: int
    op: str
    custom_code: Optional[str]
    version: int
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]
    intermediates: Tuple[int, ...]
    options_type: str
    options: Mapping[str, object]
    custom_options: Optional[np.ndarray] = None

    @property
    def display_name(self) -> str:
        return self.custom_code if self.op == "CUSTOM" and self.custom_code else self.op


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    tensors: Tuple[Tensor, ...]
    operators: Tuple[Operator, ...]
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]


@dataclass(frozen=True)
class OperatorCode:
    op: str
    builtin_code: int
    custom_code: Optional[str]
    version: int


@dataclass(frozen=True)
class TFLiteModel:
    """A parsed, validated .tflite file. `subgraphs[0]` is the main graph."""

    source: str
    version: int
    description: str
    operator_codes: Tuple[OperatorCode, ...]
    subgraphs: Tuple[Subgraph, ...]
    metadata: Tuple[Tuple[str, int], ...]
    signature_keys: Tuple[str, ...]
    size: int

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    def constant_value(self, tensor: Tensor) -> np.ndarray:
        return tensor.dense_value()


def _op_name(code: int) -> str:
    return schema.BUILTIN_OPERATORS[code] if 0 <= code < len(schema.BUILTIN_OPERATORS) else f"BUILTIN_{code}"


def _read_opcodes(root: Table, buf: Buffer) -> Tuple[OperatorCode, ...]:
    codes = []
    for i, t in enumerate(root.tables(1, "operator_code")):
        deprecated = t.scalar(0, "i8", 0)
        builtin = t.scalar(3, "i32", 0)
        # schema.fbs: the real code is max(deprecated_builtin_code, builtin_code) (v3a compatibility).
        code = max(deprecated, builtin)
        if code < 0:
            raise buf.fail(f"operator code {i} has negative builtin code {code}")
        codes.append(OperatorCode(_op_name(code), code, t.string(1, "custom_code"), t.scalar(2, "i32", 1)))
    return tuple(codes)


def _read_buffers(root: Table, buf: Buffer) -> Tuple[Optional[Tuple[int, int]], ...]:
    """(start, nbytes) of each buffer's bytes inside the file, or None for an empty buffer."""
    out = []
    for i, t in enumerate(root.tables(4, "buffer")):
        start, n = t.span(0, 1, "data")
        if n:
            out.append((start, n))
            continue
        offset, size = t.scalar(1, "u64", 0), t.scalar(2, "u64", 0)
        if offset > 1:  # data stored after the FlatBuffer (models over 2 GiB); offset is from the file start
            buf.check(offset, size, f"buffer {i} (external data at offset {offset}, {size} bytes)")
            out.append((offset, size) if size else None)
        else:
            out.append(None)
    return tuple(out)


def _read_quant(t: Table, what: str, shape: Tuple[int, ...], buf: Buffer) -> Optional[QuantParams]:
    q = t.table(4, "quantization")
    if q is None:
        return None
    scale = q.array(2, np.float32, "scale")
    zp = q.array(3, np.int64, "zero_point")
    if scale is None or len(scale) == 0:
        if q.scalar(4, "u8", 0) != 0:
            return QuantParams((), (), 0)  # custom quantization details: carried, not interpreted
        return None
    if zp is None or len(zp) != len(scale):
        raise buf.fail(f"{what}: {len(scale)} quantization scales but {0 if zp is None else len(zp)} zero points")
    if not np.all(np.isfinite(scale)) or np.any(scale < 0):
        raise buf.fail(f"{what}: quantization scales must be finite and non-negative")
    dim = q.scalar(6, "i32", 0)
    if len(scale) > 1 and not (0 <= dim < len(shape) and shape[dim] == len(scale)):
        raise buf.fail(f"{what}: {len(scale)} per-channel scales do not match dimension {dim} of shape {shape}")
    mn, mx = q.array(0, np.float32, "min"), q.array(1, np.float32, "max")
    return QuantParams(
        tuple(scale.astype(np.float64).tolist()), tuple(zp.tolist()), dim,
        () if mn is None else tuple(mn.astype(np.float64).tolist()),
        () if mx is None else tuple(mx.astype(np.float64).tolist()),
    )


def _read_tensor(t: Table, sg: int, idx: int, buffers, buf: Buffer) -> Tensor:
    name = t.string(3, "name") or f"tensor_{idx}"
    what = f"subgraph {sg}, tensor {idx} ({name!r})"
    t.what = what
    shape = t.ints(0, "shape")
    if any(d < 0 for d in shape):
        raise buf.fail(f"{what}: negative dimension in shape {shape}")
    sig = t.ints(7, "shape_signature") or shape
    if len(sig) != len(shape):
        raise buf.fail(f"{what}: shape_signature {sig} and shape {shape} differ in rank")
    ttype = t.scalar(1, "i8", 0)
    if not 0 <= ttype < len(schema.TENSOR_TYPES):
        raise buf.fail(f"{what}: unknown tensor type {ttype}")
    type_name, np_name = schema.TENSOR_TYPES[ttype]
    bidx = t.scalar(2, "u32", 0)
    if bidx >= len(buffers):
        raise buf.fail(f"{what}: buffer index {bidx} out of range (the model has {len(buffers)} buffers)")
    sparsity = read_sparsity(t.table(6, "sparsity"), shape, what, buf, np.dtype(np_name or np.uint8).itemsize)
    data = None
    loc = buffers[bidx]
    if loc is not None:
        start, nbytes = loc
        dt = np.dtype(np_name if np_name else np.uint8)
        if sparsity is not None:
            count = sparsity.stored_values
        elif np_name is None:
            count = None
        else:
            count = math.prod(shape)
        if count is not None and count * dt.itemsize != nbytes:
            expect = f"{count} {dt.name} values = {count * dt.itemsize} bytes"
            raise buf.fail(f"{what}: shape {shape} needs {expect} but its buffer {bidx} holds {nbytes} bytes")
        data = np.frombuffer(buf.data, dtype=dt.newbyteorder("<"), count=nbytes // dt.itemsize, offset=start)
        if sparsity is None and np_name is not None:
            data = data.reshape(shape)
    return Tensor(
        sg, idx, name, shape, sig, np_name or type_name.lower(), type_name, bidx, data,
        _read_quant(t, what, shape, buf), sparsity, t.scalar(5, "bool", False),
    )


def _read_options(op: Table, buf: Buffer, what: str):
    otype = op.scalar(3, "u8", 0)
    if otype >= len(schema.BUILTIN_OPTIONS):
        raise buf.fail(f"{what}: unknown builtin options type {otype}")
    tname = schema.BUILTIN_OPTIONS[otype]
    fields = schema.OPTION_FIELDS.get(tname)
    opts = {}
    if otype and fields is not None:
        tbl = op.table(4, tname)
        if tbl is None:
            raise buf.fail(f"{what}: options type {tname} is set but its table is missing")
        for fname, fid, kind, default in fields:
            if kind == "i32[]":
                arr = tbl.array(fid, np.int32, fname)
                v = default if arr is None else tuple(int(x) for x in arr)
            else:
                v = tbl.scalar(fid, kind, default)
                names = schema.OPTION_ENUMS.get(fname)
                if names is not None:
                    if not 0 <= v < len(names):
                        raise buf.fail(f"{what}: option {fname} has unknown value {v}")
                    v = names[v]
            opts[fname] = v
    return tname, types.MappingProxyType(opts)


def _check_indices(idx: Tuple[int, ...], n: int, what: str, buf: Buffer, optional: bool) -> None:
    for i in idx:
        if not (0 <= i < n or (optional and i == -1)):
            raise buf.fail(f"{what}: tensor index {i} out of range (the subgraph has {n} tensors)")


def _read_subgraph(t: Table, sg: int, codes, buffers, buf: Buffer) -> Subgraph:
    t.what = f"subgraph {sg}"
    tensors = tuple(_read_tensor(tt, sg, i, buffers, buf) for i, tt in enumerate(t.tables(0, "tensor")))
    n = len(tensors)
    inputs, outputs = t.ints(1, "inputs"), t.ints(2, "outputs")
    _check_indices(inputs, n, f"subgraph {sg} inputs", buf, False)
    _check_indices(outputs, n, f"subgraph {sg} outputs", buf, False)
    ops = []
    for i, ot in enumerate(t.tables(3, "operator")):
        ci = ot.scalar(0, "u32", 0)
        if ci >= len(codes):
            raise buf.fail(f"subgraph {sg}, operator {i}: opcode index {ci} out of range ({len(codes)} operator codes)")
        code = codes[ci]
        what = f"subgraph {sg}, operator {i} ({code.op})"
        ot.what = what
        ins, outs, mids = ot.ints(1, "inputs"), ot.ints(2, "outputs"), ot.ints(8, "intermediates")
        _check_indices(ins, n, what + " inputs", buf, True)
        _check_indices(outs, n, what + " outputs", buf, False)
        _check_indices(mids, n, what + " intermediates", buf, False)
        tname, opts = _read_options(ot, buf, what)
        ops.append(Operator(sg, i, ci, code.op, code.custom_code, code.version, ins, outs, mids, tname, opts,
                            ot.array(5, np.uint8, "custom_options")))
    return Subgraph(sg, t.string(4, "name") or "", tensors, tuple(ops), inputs, outputs)


def read_model(data: bytes, source: str) -> TFLiteModel:
    """Parse and validate a .tflite file; any defect raises ModelFormatError(source, what and where)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    buf = Buffer(data, source)
    root = buf.root(b"TFL3")
    version = root.scalar(0, "u32", 0)
    if version != SCHEMA_VERSION:
        raise buf.fail(f"schema version {version}, expected {SCHEMA_VERSION}")
    codes = _read_opcodes(root, buf)
    buffers = _read_buffers(root, buf)
    subgraphs = tuple(_read_subgraph(t, i, codes, buffers, buf) for i, t in enumerate(root.tables(2, "subgraph")))
    if not subgraphs:
        raise buf.fail("the model has no subgraph")
    metadata = tuple((m.string(0, "name") or "", m.scalar(1, "u32", 0)) for m in root.tables(6, "metadata"))
    for name, b in metadata:
        if b >= len(buffers):
            raise buf.fail(f"metadata {name!r}: buffer index {b} out of range ({len(buffers)} buffers)")
    keys = []
    for sig in root.tables(7, "signature_def"):
        keys.append(sig.string(2, "signature_key") or "")
        sub = sig.scalar(4, "u32", 0)
        if sub >= len(subgraphs):
            raise buf.fail(f"signature {keys[-1]!r}: subgraph index {sub} out of range ({len(subgraphs)} subgraphs)")
        for field, kind in ((0, "input"), (1, "output")):
            for tm in sig.tables(field, kind):
                tm.string(0, "name")
                if tm.scalar(1, "u32", 0) >= len(subgraphs[sub].tensors):
                    raise buf.fail(f"signature {keys[-1]!r}: {kind} tensor index out of range")
    keys = tuple(keys)
    return TFLiteModel(source, version, root.string(3, "description") or "", codes, subgraphs, metadata, keys, len(data))

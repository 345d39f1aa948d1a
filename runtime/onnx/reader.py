"""ModelProto bytes -> OnnxModel, with the `onnx` and `protobuf` packages nowhere in sight.

Every failure, however deep, surfaces as ModelFormatError(source, "<where>: <what>") naming the
node or tensor; nesting (graphs inside attributes, types inside types) is bounded so hostile
input cannot exhaust the stack.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..errors import ModelFormatError
from . import dtypes, schema
from .message import decode
from .model import Graph, LazyTensor, Node, OnnxModel, SparseTensor, TensorTable, TypeInfo, ValueInfo
from .tensors import TensorContext, read_tensor
from .truncation import locate
from .wire import Truncated, WireError

MAX_DEPTH = 32  # graphs nested in attributes (If/Loop/Scan bodies), and types nested in types


def read_model(data: bytes, source: str, base_dir: Optional[str] = None) -> OnnxModel:
    """Parse and validate an ONNX ModelProto. Tensors are checked now and decoded on first use."""
    buf = bytes(data)
    ctx = TensorContext(source, base_dir)
    try:
        return _model(buf, ctx)
    except Truncated as e:
        where = locate(buf)
        raise ModelFormatError(
            source, f"truncated: the file ends inside {where} ({e})" if where else f"truncated ({e})"
        ) from None
    except WireError as e:
        raise ModelFormatError(source, f"not a valid ONNX model: {e}") from None
    except RecursionError:
        raise ModelFormatError(source, "not a valid ONNX model: nested too deeply") from None


def _model(buf: bytes, ctx: TensorContext) -> OnnxModel:
    d = decode(buf, 0, len(buf), schema.MODEL)
    if "graph" not in d:
        raise WireError("the ModelProto has no graph")
    opsets: Dict[str, int] = {}
    for a, b in d.get("opset_import", []):
        o = decode(buf, a, b, schema.OPERATOR_SET_ID)
        domain = o.get("domain", "")
        domain = "" if domain == "ai.onnx" else domain
        version = o.get("version", 0)
        if version < 1:
            raise WireError(f"opset_import for domain {domain or 'ai.onnx'!r} has version {version}")
        if domain in opsets:
            raise WireError(f"opset_import lists domain {domain or 'ai.onnx'!r} twice")
        opsets[domain] = version
    functions = []
    for a, b in d.get("functions", []):
        f = decode(buf, a, b, schema.FUNCTION)
        functions.append((f.get("domain", ""), f.get("name", "")))
    ga, gb = d["graph"]
    return OnnxModel(
        source=ctx.source,
        ir_version=d.get("ir_version", 0),
        opset_imports=opsets,
        producer_name=d.get("producer_name", ""),
        producer_version=d.get("producer_version", ""),
        domain=d.get("domain", ""),
        model_version=d.get("model_version", 0),
        doc_string=d.get("doc_string", ""),
        graph=_graph(buf, ga, gb, ctx, 0, "graph"),
        metadata=_entries(buf, d.get("metadata_props", [])),
        functions=tuple(functions),
    )


def _entries(buf: bytes, spans) -> Dict[str, str]:
    out = {}
    for a, b in spans:
        e = decode(buf, a, b, schema.STRING_STRING_ENTRY)
        out[e.get("key", "")] = e.get("value", "")
    return out


def _graph(buf: bytes, a: int, b: int, ctx: TensorContext, depth: int, where: str) -> Graph:
    if depth > MAX_DEPTH:
        raise WireError(f"{where}: subgraphs nested more than {MAX_DEPTH} deep")
    try:
        d = decode(buf, a, b, schema.GRAPH)
    except WireError as e:
        raise WireError(f"{where}: {e}") from None
    name = d.get("name", "")
    gw = f"graph {name!r}" if name else where
    inits: Dict[str, LazyTensor] = {}
    for i, (x, y) in enumerate(d.get("initializer", [])):
        t = read_tensor(buf, x, y, ctx, f"{gw} initializer #{i}")
        if t.name in inits:
            raise WireError(f"{gw}: initializer {t.name!r} is defined twice")
        inits[t.name] = t
    sparse: Dict[str, SparseTensor] = {}
    for i, (x, y) in enumerate(d.get("sparse_initializer", [])):
        s = _sparse(buf, x, y, ctx, f"{gw} sparse_initializer #{i}")
        sparse[s.values.name] = s
    nodes = tuple(_node(buf, x, y, ctx, depth, f"{gw} node #{i}") for i, (x, y) in enumerate(d.get("node", [])))
    return Graph(
        name=name,
        nodes=nodes,
        inputs=tuple(_value_info(buf, x, y, f"{gw} input #{i}") for i, (x, y) in enumerate(d.get("input", []))),
        outputs=tuple(_value_info(buf, x, y, f"{gw} output #{i}") for i, (x, y) in enumerate(d.get("output", []))),
        value_info=tuple(
            _value_info(buf, x, y, f"{gw} value_info #{i}") for i, (x, y) in enumerate(d.get("value_info", []))
        ),
        initializers=TensorTable(inits),
        sparse_initializers=sparse,
    )


def _node(buf: bytes, a: int, b: int, ctx: TensorContext, depth: int, where: str) -> Node:
    try:
        d = decode(buf, a, b, schema.NODE)
    except WireError as e:
        raise WireError(f"{where}: {e}") from None
    name = d.get("name", "")
    op = d.get("op_type", "")
    label = f"node {name!r} ({op})" if name else f"{where} ({op})"
    if not op:
        raise WireError(f"{label}: no op_type")
    attrs = {}
    for i, (x, y) in enumerate(d.get("attribute", [])):
        key, value = _attribute(buf, x, y, ctx, depth, f"{label} attribute #{i}")
        if key in attrs:
            raise WireError(f"{label}: attribute {key!r} is given twice")
        attrs[key] = value
    domain = d.get("domain", "")
    return Node(
        op_type=op,
        domain="" if domain == "ai.onnx" else domain,
        name=name,
        inputs=tuple(d.get("input", [])),
        outputs=tuple(d.get("output", [])),
        attributes=attrs,
    )


_TYPE_OF_FIELD = (
    ("t", schema.ATTR_TENSOR), ("g", schema.ATTR_GRAPH), ("sparse_tensor", schema.ATTR_SPARSE_TENSOR),
    ("tp", schema.ATTR_TYPE_PROTO), ("s", schema.ATTR_STRING), ("f", schema.ATTR_FLOAT), ("i", schema.ATTR_INT),
    ("floats", schema.ATTR_FLOATS), ("ints", schema.ATTR_INTS), ("strings", schema.ATTR_STRINGS),
    ("tensors", schema.ATTR_TENSORS), ("graphs", schema.ATTR_GRAPHS), ("sparse_tensors", schema.ATTR_SPARSE_TENSORS),
    ("type_protos", schema.ATTR_TYPE_PROTOS),
)


def _str_or_bytes(raw: bytes):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _attribute(buf: bytes, a: int, b: int, ctx: TensorContext, depth: int, where: str):
    try:
        d = decode(buf, a, b, schema.ATTRIBUTE)
    except WireError as e:
        raise WireError(f"{where}: {e}") from None
    name = d.get("name", "")
    if not name:
        raise WireError(f"{where}: attribute without a name")
    where = f"{where.rsplit(' attribute', 1)[0]} attribute {name!r}"
    kind = d.get("type", 0)
    if kind == 0:  # IR < 3 wrote no type: infer it from the field that is set
        kind = next((k for f, k in _TYPE_OF_FIELD if f in d), 0)
        if kind == 0:
            if "ref_attr_name" in d:
                return name, None
            raise WireError(f"{where}: no value")
    if kind == schema.ATTR_FLOAT:
        return name, float(np.float32(d.get("f", 0.0)))
    if kind == schema.ATTR_INT:
        return name, int(d.get("i", 0))
    if kind == schema.ATTR_STRING:
        x, y = d.get("s", (0, 0))
        return name, _str_or_bytes(bytes(buf[x:y]))
    if kind == schema.ATTR_TENSOR:
        if "t" not in d:
            raise WireError(f"{where}: type TENSOR but no tensor")
        return name, read_tensor(buf, *d["t"], ctx, f"{where} tensor").value()
    if kind == schema.ATTR_GRAPH:
        if "g" not in d:
            raise WireError(f"{where}: type GRAPH but no graph")
        return name, _graph(buf, *d["g"], ctx, depth + 1, f"{where} graph")
    if kind == schema.ATTR_SPARSE_TENSOR:
        if "sparse_tensor" not in d:
            raise WireError(f"{where}: type SPARSE_TENSOR but no sparse tensor")
        return name, _sparse(buf, *d["sparse_tensor"], ctx, f"{where} sparse tensor")
    if kind == schema.ATTR_TYPE_PROTO:
        return name, _type(buf, *d.get("tp", (0, 0)), 0, where)
    if kind == schema.ATTR_FLOATS:
        return name, [float(v) for v in d.get("floats", np.zeros(0, np.float32)).astype(np.float32)]
    if kind == schema.ATTR_INTS:
        return name, [int(v) for v in d.get("ints", ())]
    if kind == schema.ATTR_STRINGS:
        return name, [_str_or_bytes(bytes(buf[x:y])) for x, y in d.get("strings", [])]
    if kind == schema.ATTR_TENSORS:
        return name, [read_tensor(buf, x, y, ctx, f"{where} tensor #{i}").value()
                      for i, (x, y) in enumerate(d.get("tensors", []))]
    if kind == schema.ATTR_GRAPHS:
        return name, [_graph(buf, x, y, ctx, depth + 1, f"{where} graph #{i}")
                      for i, (x, y) in enumerate(d.get("graphs", []))]
    if kind == schema.ATTR_SPARSE_TENSORS:
        return name, [_sparse(buf, x, y, ctx, f"{where} sparse tensor #{i}")
                      for i, (x, y) in enumerate(d.get("sparse_tensors", []))]
    if kind == schema.ATTR_TYPE_PROTOS:
        return name, [_type(buf, x, y, 0, where) for x, y in d.get("type_protos", [])]
    raise WireError(f"{where}: unknown attribute type {kind}")


def _sparse(buf: bytes, a: int, b: int, ctx: TensorContext, where: str) -> SparseTensor:
    d = decode(buf, a, b, schema.SPARSE_TENSOR)
    if "values" not in d or "indices" not in d:
        raise WireError(f"{where}: needs both values and indices")
    values = read_tensor(buf, *d["values"], ctx, f"{where} values")
    indices = read_tensor(buf, *d["indices"], ctx, f"{where} indices")
    dims = tuple(int(x) for x in d.get("dims", ()))
    if any(x < 0 for x in dims):
        raise WireError(f"sparse tensor {values.name!r}: negative dims {list(dims)}")
    nnz = values.dims[0] if len(values.dims) == 1 else -1
    rank_ok = indices.dims in ((nnz,), (nnz, len(dims)))
    if nnz < 0 or not rank_ok or indices.elem_type != "int64":
        raise WireError(f"sparse tensor {values.name!r}: values {list(values.dims)} and int64 indices "
                        f"{list(indices.dims)} do not describe a COO tensor of dims {list(dims)}")
    return SparseTensor(values, indices, dims)


def _value_info(buf: bytes, a: int, b: int, where: str) -> ValueInfo:
    try:
        d = decode(buf, a, b, schema.VALUE_INFO)
        name = d.get("name", "")
        t = _type(buf, *d["type"], 0, f"value {name!r}") if "type" in d else TypeInfo("")
    except WireError as e:
        raise WireError(f"{where}: {e}") from None
    return ValueInfo(name, t)


def _shape(buf: bytes, a: int, b: int):
    dims = []
    for x, y in decode(buf, a, b, schema.TENSOR_SHAPE).get("dim", []):
        dd = decode(buf, x, y, schema.DIMENSION)
        dims.append(dd["dim_param"] if "dim_param" in dd else dd.get("dim_value"))
    return tuple(dims)


def _type(buf: bytes, a: int, b: int, depth: int, where: str) -> TypeInfo:
    if depth > MAX_DEPTH:
        raise WireError(f"{where}: type nested more than {MAX_DEPTH} deep")
    d = decode(buf, a, b, schema.TYPE)
    for field, kind in (("tensor_type", "tensor"), ("sparse_tensor_type", "sparse_tensor")):
        if field in d:
            t = decode(buf, *d[field], schema.TYPE_TENSOR)
            shape = _shape(buf, *t["shape"]) if "shape" in t else None
            code = t.get("elem_type", 0)
            return TypeInfo(kind, dtypes.name_of(code) if code else None, shape)
    for field, kind in (("sequence_type", "sequence"), ("optional_type", "optional")):
        if field in d:
            e = decode(buf, *d[field], schema.TYPE_ELEM)
            elem = _type(buf, *e["elem_type"], depth + 1, where) if "elem_type" in e else None
            return TypeInfo(kind, elem=elem)
    if "map_type" in d:
        m = decode(buf, *d["map_type"], schema.TYPE_MAP)
        elem = _type(buf, *m["value_type"], depth + 1, where) if "value_type" in m else None
        return TypeInfo("map", dtypes.name_of(m.get("key_type", 0)), elem=elem)
    if "opaque_type" in d:
        return TypeInfo("opaque")
    return TypeInfo("")

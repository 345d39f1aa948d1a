"""The hand-written protobuf reader: agreement with the `onnx` package on every model and every
element type, and clear ModelFormatErrors (file and tensor named) on broken or hostile input."""
from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.backend.test.loader import load_model_tests  # noqa: E402

from edgewise.runtime import ModelFormatError  # noqa: E402
from edgewise.runtime.onnx import Graph, SparseTensor, read_model  # noqa: E402

pytestmark = pytest.mark.host

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


# -- agreement with onnx ----------------------------------------------------------------------
_NUMPY_NAMES = {"float16", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                "uint64", "bool", "complex64", "complex128", "object"}


def _expected_array(t: TensorProto) -> np.ndarray:
    """onnx's decoding, widened the way edgewise documents (bfloat16/float8/float4 -> float32, int4 -> int8)."""
    a = numpy_helper.to_array(t)
    name = a.dtype.name
    if name in ("int4", "int2"):
        return a.astype(np.int8)
    if name in ("uint4", "uint2"):
        return a.astype(np.uint8)
    if name not in _NUMPY_NAMES and a.dtype.kind not in "US":
        return a.astype(np.float32)  # ml_dtypes' bfloat16, float8, float4
    return a


def _assert_same_array(ours, t: TensorProto, what: str):
    want = _expected_array(t)
    if want.dtype == object:
        def text(v):
            return [x.decode("utf-8") if isinstance(x, bytes) else x for x in v.reshape(-1)]

        assert text(ours) == text(want), what
        return
    assert ours.shape == want.shape, what
    assert ours.dtype == want.dtype or want.dtype.kind == "f" and ours.dtype == np.float32, (what, ours.dtype, want.dtype)
    np.testing.assert_array_equal(ours, want.astype(ours.dtype), err_msg=what)


def _compare_attr(ours, a: onnx.AttributeProto, what: str):
    v = helper.get_attribute_value(a)
    if a.type == onnx.AttributeProto.TENSOR:
        _assert_same_array(ours, v, what)
    elif a.type == onnx.AttributeProto.GRAPH:
        assert isinstance(ours, Graph)
        _compare_graph(ours, v, what)
    elif a.type == onnx.AttributeProto.STRING:
        assert ours == v.decode("utf-8"), what
    elif a.type == onnx.AttributeProto.STRINGS:
        assert ours == [s.decode("utf-8") for s in v], what
    elif a.type == onnx.AttributeProto.FLOAT:
        assert ours == float(np.float32(v)), what
    elif a.type == onnx.AttributeProto.FLOATS:
        assert ours == [float(np.float32(x)) for x in v], what
    elif a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS):
        assert ours == (list(v) if a.type == onnx.AttributeProto.INTS else v), what
    elif a.type == onnx.AttributeProto.SPARSE_TENSOR:
        assert isinstance(ours, SparseTensor)
        np.testing.assert_array_equal(ours.dense(), _expected_array(onnx.numpy_helper.to_array(v) if False else
                                                                    _dense_of(v)), err_msg=what)
    elif a.type == onnx.AttributeProto.TENSORS:
        assert len(ours) == len(v)
        for o, t in zip(ours, v):
            _assert_same_array(o, t, what)


def _dense_of(sp) -> TensorProto:
    values = numpy_helper.to_array(sp.values)
    idx = numpy_helper.to_array(sp.indices)
    dense = np.zeros(tuple(sp.dims), values.dtype)
    if idx.ndim == 2:
        idx = np.ravel_multi_index(tuple(idx.T), tuple(sp.dims))
    dense.reshape(-1)[idx] = values
    return numpy_helper.from_array(dense)


def _dims(vi):
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    return tuple(
        d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
        for d in vi.type.tensor_type.shape.dim
    )


def _compare_graph(ours: Graph, g: onnx.GraphProto, what: str):
    assert ours.name == g.name
    assert [v.name for v in ours.inputs] == [v.name for v in g.input], what
    assert [v.name for v in ours.outputs] == [v.name for v in g.output], what
    for o, v in zip(ours.inputs + ours.outputs, list(g.input) + list(g.output)):
        assert o.shape == _dims(v), (what, v.name)
    assert len(ours.nodes) == len(g.node)
    for o, n in zip(ours.nodes, g.node):
        assert (o.op_type, o.domain, o.name, o.inputs, o.outputs) == (
            n.op_type, "" if n.domain == "ai.onnx" else n.domain, n.name, tuple(n.input), tuple(n.output)
        ), what
        assert list(o.attributes) == [a.name for a in n.attribute]
        for a in n.attribute:
            _compare_attr(o.attributes[a.name], a, f"{what} node {n.name or n.op_type} attribute {a.name}")
    assert list(ours.initializers) == [t.name for t in g.initializer]
    for t in g.initializer:
        _assert_same_array(ours.initializers[t.name], t, f"{what} initializer {t.name}")


def test_reader_agrees_with_onnx_on_every_node_test_model():
    cases = [c for c in load_model_tests(kind="node") if c.model is not None]
    assert len(cases) > 1000
    for case in cases:
        m = case.model
        ours = read_model(m.SerializeToString(), case.name, None)
        assert ours.ir_version == m.ir_version
        assert ours.opset_imports == {("" if o.domain == "ai.onnx" else o.domain): o.version for o in m.opset_import}
        _compare_graph(ours.graph, m.graph, case.name)


@pytest.mark.parametrize("name", sorted(f[6:-5] for f in os.listdir(LIGHT) if f.endswith(".onnx")))
def test_reader_agrees_with_onnx_on_light_models(name):
    path = os.path.join(LIGHT, f"light_{name}.onnx")
    m = onnx.load(path)
    with open(path, "rb") as f:
        ours = read_model(f.read(), path, LIGHT)
    assert ours.producer_name == m.producer_name
    _compare_graph(ours.graph, m.graph, name)


_ALL_TYPES = [
    (TensorProto.FLOAT, np.float32), (TensorProto.DOUBLE, np.float64), (TensorProto.FLOAT16, np.float16),
    (TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8), (TensorProto.INT16, np.int16),
    (TensorProto.UINT16, np.uint16), (TensorProto.INT32, np.int32), (TensorProto.INT64, np.int64),
    (TensorProto.UINT32, np.uint32), (TensorProto.UINT64, np.uint64), (TensorProto.BOOL, np.bool_),
    (TensorProto.COMPLEX64, np.complex64), (TensorProto.COMPLEX128, np.complex128),
    (TensorProto.BFLOAT16, None), (TensorProto.FLOAT8E4M3FN, None), (TensorProto.FLOAT8E4M3FNUZ, None),
    (TensorProto.FLOAT8E5M2, None), (TensorProto.FLOAT8E5M2FNUZ, None), (TensorProto.INT4, None),
    (TensorProto.UINT4, None), (TensorProto.FLOAT4E2M1, None),
]


def _values(code, np_type, rng, n):
    if np_type is None:
        if code in (TensorProto.INT4,):
            return rng.integers(-8, 8, n)
        if code in (TensorProto.UINT4,):
            return rng.integers(0, 16, n)
        return rng.uniform(-4, 4, n).astype(np.float32)
    if np.dtype(np_type).kind == "c":
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np_type)
    if np.dtype(np_type).kind == "b":
        return rng.integers(0, 2, n).astype(bool)
    if np.dtype(np_type).kind in "iu":
        info = np.iinfo(np_type)
        return rng.integers(max(info.min, -(1 << 40)), min(info.max, 1 << 40), n, dtype=np.int64).astype(np_type)
    return rng.standard_normal(n).astype(np_type)


@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "typed_field"])
@pytest.mark.parametrize("code,np_type", _ALL_TYPES, ids=[TensorProto.DataType.Name(c) for c, _ in _ALL_TYPES])
def test_every_element_type_decodes_like_onnx(code, np_type, raw):
    rng = np.random.default_rng(code)
    dims = (3, 5)
    t = helper.make_tensor("t", code, dims, _values(code, np_type, rng, 15), raw=False)
    if raw:
        t = numpy_helper.from_array(numpy_helper.to_array(t), "t")
        assert t.HasField("raw_data") or code == TensorProto.STRING
    node = helper.make_node("Constant", [], ["y"], value=t)
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", code, dims)], initializer=[t])
    data = helper.make_model(graph).SerializeToString()
    ours = read_model(data, "types.onnx", None)
    _assert_same_array(ours.initializers["t"], t, TensorProto.DataType.Name(code))
    _assert_same_array(ours.nodes[0].attributes["value"], t, TensorProto.DataType.Name(code))
    assert ours.outputs[0].dtype == ours.initializers.info("t").elem_type


# -- broken and hostile files --------------------------------------------------------------------
def _model_bytes(tensor: TensorProto) -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph([helper.make_node("Add", ["x", tensor.name], ["y"])], "g", [x], [y], [tensor])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _weights(name="weights", shape=(2, 3)):
    return numpy_helper.from_array(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), name)


def test_truncated_file_names_file_and_tensor():
    data = _model_bytes(_weights("conv1_w", (64, 64)))
    cut = data.index(b"conv1_w") + 200  # inside that tensor's raw_data
    with pytest.raises(ModelFormatError) as e:
        read_model(data[:cut], "cut.onnx", None)
    assert e.value.source == "cut.onnx"
    assert "truncated" in str(e.value) and "'conv1_w'" in str(e.value)


def test_every_truncation_of_a_real_model_is_a_format_error():
    with open(os.path.join(LIGHT, "light_squeezenet.onnx"), "rb") as f:
        data = f.read()
    for cut in range(0, len(data), 97):
        with pytest.raises(ModelFormatError, match="squeezenet"):
            read_model(data[:cut], "squeezenet.onnx", None)


def test_garbage_bytes_are_format_errors():
    rng = np.random.default_rng(0)
    for i in range(300):
        junk = rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes()
        try:
            read_model(junk, "junk.onnx", None)
        except ModelFormatError as e:
            assert str(e).startswith("junk.onnx: ")


def test_mutated_real_model_raises_only_format_errors():
    with open(os.path.join(LIGHT, "light_inception_v1.onnx"), "rb") as f:
        data = bytearray(f.read())
    rng = np.random.default_rng(1)
    for _ in range(150):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data), 3):
            mutated[pos] = int(rng.integers(0, 256))
        try:
            read_model(bytes(mutated), "mutated.onnx", None)
        except ModelFormatError:
            pass


def test_raw_data_size_mismatch_names_the_tensor():
    t = _weights("fc_bias")
    t.raw_data = t.raw_data[:-4]
    with pytest.raises(ModelFormatError, match=r"^bad\.onnx: .*'fc_bias'.*raw_data is 20 bytes.*need 24"):
        read_model(_model_bytes(t), "bad.onnx", None)


def test_typed_field_count_mismatch_names_the_tensor():
    t = TensorProto()
    t.name, t.data_type = "scales", TensorProto.FLOAT
    t.dims.extend([2, 3])
    t.float_data.extend([1.0] * 5)
    with pytest.raises(ModelFormatError, match="'scales'.*float_data holds 5 values"):
        read_model(_model_bytes(t), "bad.onnx", None)


def test_negative_dims_and_unknown_types_are_rejected():
    t = _weights("w")
    t.dims[0] = -2
    with pytest.raises(ModelFormatError, match="'w'.*negative dimension"):
        read_model(_model_bytes(t), "m.onnx", None)
    t = _weights("w")
    t.data_type = 99
    with pytest.raises(ModelFormatError, match="'w'.*unknown data_type 99"):
        read_model(_model_bytes(t), "m.onnx", None)


def test_huge_dims_do_not_allocate():
    t = TensorProto()
    t.name, t.data_type = "big", TensorProto.FLOAT
    t.dims.extend([1 << 20, 1 << 20, 1 << 20])
    t.raw_data = b"\x00" * 16
    with pytest.raises(ModelFormatError, match="'big'"):
        read_model(_model_bytes(t), "big.onnx", None)


def test_wire_level_errors():
    with pytest.raises(ModelFormatError, match="varint longer than 10 bytes"):
        read_model(b"\x08" + b"\xff" * 11 + b"\x01", "v.onnx", None)
    with pytest.raises(ModelFormatError, match="'graph' has wire type varint"):
        read_model(b"\x38\x01", "w.onnx", None)  # field 7 (graph) as a varint
    with pytest.raises(ModelFormatError, match="no graph"):
        read_model(b"\x08\x07", "g.onnx", None)


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_deep_nesting_is_a_format_error_not_a_recursion_error():
    # Written by hand: protobuf itself refuses to build messages nested this deep.
    graph = _field(2, b"leaf")
    for _ in range(200):
        attribute = _field(1, b"then_branch") + _varint(20 << 3) + _varint(5) + _field(6, graph)
        node = _field(4, b"If") + _field(5, attribute)
        graph = _field(1, node)
    with pytest.raises(ModelFormatError, match="deep.onnx: .*nested more than 32 deep"):
        read_model(_field(7, graph), "deep.onnx", None)


# -- external data ---------------------------------------------------------------------------
def _external_tensor(name, location, offset=None, length=None, shape=(2, 3)):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


def _write_model(folder, tensor):
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(_model_bytes(tensor))
    return path


def _load(path, base_dir="default"):
    with open(path, "rb") as f:
        return read_model(f.read(), path, os.path.dirname(path) if base_dir == "default" else base_dir)


def test_external_data_inside_the_folder_is_read(tmp_path):
    values = np.arange(6, dtype=np.float32) * 1.5
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 8 + values.tobytes() + b"\x00" * 4)
    path = _write_model(str(tmp_path), _external_tensor("w", "weights.bin", offset=8, length=24))
    m = _load(path)
    assert m.initializers.info("w").external
    np.testing.assert_array_equal(m.initializers["w"], values.reshape(2, 3))


@pytest.mark.parametrize("location", ["../secret.bin", "sub/../../secret.bin"])
def test_external_data_escaping_with_dotdot_is_rejected(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 24)
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    path = _write_model(str(folder), _external_tensor("embedding", location))
    with pytest.raises(ModelFormatError, match=r"model\.onnx: .*'embedding'.*outside the model's folder"):
        _load(path)


def test_external_data_absolute_path_is_rejected(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\x00" * 24)
    path = _write_model(str(tmp_path), _external_tensor("w", str(tmp_path / "w.bin")))
    with pytest.raises(ModelFormatError, match="'w'.*absolute path"):
        _load(path)


def test_external_data_symlink_out_of_the_folder_is_rejected(tmp_path):
    (tmp_path / "outside.bin").write_bytes(b"\x00" * 24)
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(tmp_path / "outside.bin", folder / "w.bin")
    path = _write_model(str(folder), _external_tensor("w", "w.bin"))
    with pytest.raises(ModelFormatError, match="'w'.*outside the model's folder"):
        _load(path)


def test_external_data_needs_a_folder(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\x00" * 24)
    path = _write_model(str(tmp_path), _external_tensor("w", "w.bin"))
    with pytest.raises(ModelFormatError, match="'w'.*given as bytes"):
        _load(path, base_dir=None)


@pytest.mark.parametrize("offset,length,match", [
    (16, 24, "exceeds the file's 32 bytes"),
    (0, 20, "has 20 bytes but 6 float32 elements need 24"),
    (None, None, "has 32 bytes but 6 float32 elements need 24"),
])
def test_external_data_offsets_are_checked_against_the_file(tmp_path, offset, length, match):
    (tmp_path / "w.bin").write_bytes(b"\x00" * 32)
    path = _write_model(str(tmp_path), _external_tensor("w", "w.bin", offset, length))
    with pytest.raises(ModelFormatError, match="'w'.*" + match):
        _load(path)


def test_missing_external_file_is_a_format_error(tmp_path):
    path = _write_model(str(tmp_path), _external_tensor("w", "nowhere.bin"))
    with pytest.raises(ModelFormatError, match="'w'.*nowhere.bin"):
        _load(path)

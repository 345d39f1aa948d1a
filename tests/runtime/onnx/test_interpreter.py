"""The interpreter around the kernels: the op registry against the ONNX schemas, errors raised
before anything runs, topological order, inputs/outputs, intermediates."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgewise.runtime import EdgewiseRuntimeError, ModelFormatError, UnsupportedOpError  # noqa: E402
from edgewise.runtime.onnx import Interpreter, read_model, registry  # noqa: E402

pytestmark = pytest.mark.host


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _interp(data, source="m.onnx"):
    return Interpreter(read_model(data, source, None), source)


def test_op_outside_the_registry_names_op_node_and_model():
    data = _model(
        [helper.make_node("Relu", ["x"], ["r"], name="first"),
         helper.make_node("GridSample", ["r", "grid"], ["y"], name="warp")],
        [_vi("x", [1, 1, 4, 4]), _vi("grid", [1, 4, 4, 2])], [_vi("y", None)],
    )
    with pytest.raises(UnsupportedOpError) as e:
        _interp(data, "warp.onnx")
    assert (e.value.op, e.value.node, e.value.source) == ("GridSample", "warp", "warp.onnx")
    assert "warp.onnx" in str(e.value) and "GridSample" in str(e.value) and "'warp'" in str(e.value)


def test_opset_outside_a_kernels_range_is_unsupported():
    data = _model([helper.make_node("Add", ["x", "x"], ["y"], name="old_add")], [_vi("x", [2])], [_vi("y", [2])],
                  opset=6)
    with pytest.raises(UnsupportedOpError, match="old_add.*opset 6 is outside the supported ranges 7-28"):
        _interp(data)


def test_unknown_attribute_and_unknown_domain_are_unsupported():
    data = _model([helper.make_node("Relu", ["x"], ["y"], name="r", leak=0.1)], [_vi("x", [2])], [_vi("y", [2])])
    with pytest.raises(UnsupportedOpError, match="attribute 'leak'"):
        _interp(data)
    data = _model([helper.make_node("Gelu", ["x"], ["y"], name="g", domain="com.microsoft")], [_vi("x", [2])],
                  [_vi("y", [2])])
    with pytest.raises(UnsupportedOpError, match="com.microsoft"):
        _interp(data)


def _kernel_params(kernel):
    params = inspect.signature(kernel).parameters.values()
    keyword = {p.name: p.default for p in params if p.kind == p.KEYWORD_ONLY}
    positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
    return keyword, positional, variadic


@pytest.mark.parametrize("entry", registry.ENTRIES, ids=lambda e: f"{e.op_type}-{e.first}-{e.last}")
def test_kernel_signature_is_the_onnx_schema(entry):
    """Every attribute of every schema version the entry covers is a keyword argument with the
    spec's default; every input is a positional argument, named as the spec names it."""
    keyword, positional, variadic = _kernel_params(entry.kernel)
    seen = set()
    for version in range(max(entry.first, 1), entry.last + 1):
        try:
            schema = onnx.defs.get_schema(entry.op_type, version, entry.domain)
        except onnx.defs.SchemaError:
            continue
        if schema.since_version in seen:
            continue
        seen.add(schema.since_version)
        for name, attr in schema.attributes.items():
            assert name in keyword, f"{entry.op_type}-{schema.since_version}: attribute {name} missing"
            if attr.default_value.type:
                want = helper.get_attribute_value(attr.default_value)
                want = want.decode() if isinstance(want, bytes) else want
                got = keyword[name]
                if isinstance(want, float):
                    assert got == pytest.approx(want, rel=1e-6), (entry.op_type, name)
                else:
                    assert got == want, (entry.op_type, name)
        if variadic:
            continue
        names = [i.name for i in schema.inputs]
        assert positional[: len(names)] == names, (entry.op_type, schema.since_version, positional, names)
    assert seen, f"{entry.op_type} has no schema in opsets {entry.first}-{entry.last}"


def test_graph_inputs_that_are_initializers_are_not_inputs_and_batch_is_resizable():
    w = numpy_helper.from_array(np.full((3,), 2.0, np.float32), "w")
    data = _model([helper.make_node("Mul", ["x", "w"], ["y"])], [_vi("x", ["batch", 3]), _vi("w", [3])],
                  [_vi("y", ["batch", 3])], [w])
    it = _interp(data)
    assert [s.name for s in it.inputs] == ["x"]
    assert it.inputs[0].shape == ("batch", 3) and it.inputs[0].dtype == "float32"
    assert it.resizable_batch
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(it.invoke([x])[0], x * 2)


def test_nodes_run_in_topological_order_and_constants_are_folded():
    shape = numpy_helper.from_array(np.array([2, 3], np.int64), "shape")
    nodes = [
        helper.make_node("Add", ["x", "ones"], ["y"], name="add"),  # listed before its producer
        helper.make_node("ConstantOfShape", ["shape"], ["ones"], name="fill",
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
    ]
    it = _interp(_model(nodes, [_vi("x", [2, 3])], [_vi("y", [2, 3])], [shape]))
    env = it.invoke_all([np.zeros((2, 3), np.float32)])
    np.testing.assert_array_equal(env["ones"], np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(env["y"], np.ones((2, 3), np.float32))
    assert [s.node.name for s in it._plan] == ["add"]  # the fill was evaluated at construction


def test_cycles_and_dangling_inputs_are_format_errors():
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2")]
    with pytest.raises(ModelFormatError, match="cycle"):
        _interp(_model(nodes, [_vi("x", [1])], [_vi("a", [1])]))
    nodes = [helper.make_node("Relu", ["nowhere"], ["y"], name="lost")]
    with pytest.raises(ModelFormatError, match="'lost'.*'nowhere'"):
        _interp(_model(nodes, [_vi("x", [1])], [_vi("y", [1])]))


def test_kernel_failure_names_the_node():
    # Symbolic inner dimensions: load-time validation (onnx/validate.py) cannot see the mismatch, the kernel does.
    data = _model([helper.make_node("MatMul", ["a", "b"], ["y"], name="proj")], [_vi("a", [2, "k"]), _vi("b", ["j", 5])],
                  [_vi("y", None)])
    it = _interp(data)
    with pytest.raises(EdgewiseRuntimeError, match=r"m\.onnx: node 'proj' \(MatMul\) failed"):
        it.invoke([np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32)])


@pytest.mark.parametrize("shape, kernel", [((1, 8, 8, 8), (2, 2)), ((2, 3, 6, 9), (3, 3)), ((1, 2, 4, 6), (2, 3)),
                                           ((1, 1, 4, 4), (1, 2))])
def test_maxpool_over_tiling_windows_matches_onnxruntime(shape, kernel):
    """MaxPool whose windows tile the input (kernel = stride) takes chained maxima of slices
    (ops/pool.py _tiled_max); onnxruntime is the oracle, float32 and int8."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(sum(shape))
    for elem, x in ((TensorProto.FLOAT, rng.standard_normal(shape).astype(np.float32)),
                    (TensorProto.INT8, rng.integers(-128, 128, shape).astype(np.int8))):
        node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=list(kernel), strides=list(kernel))
        graph = helper.make_graph([node], "g", [_vi("x", list(shape), elem)], [_vi("y", None, elem)])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8  # what the installed onnxruntime reads
        data = m.SerializeToString()
        want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        got = Interpreter(read_model(data, "pool.onnx", None), "pool.onnx").invoke([x])[0]
        np.testing.assert_array_equal(got, want)

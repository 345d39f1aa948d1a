"""Load-time validation of ONNX geometry and tensor sizes (runtime/onnx/validate.py, shapes*.py).

One hand-built graph per class of check, each wrong in one named way, must be refused by `load()`
with a ModelFormatError naming the node, its op type and the tensor, before onnxruntime or the
NumPy interpreter sees it. Checks on the checked-in fixture, which need no `onnx` package, are in
tests/runtime/test_limits.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgewise.runtime import InputError, ModelFormatError, load

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_cnn.onnx"


def refused(data, *fragments: str, backend: str = "numpy", **kwargs) -> str:
    with pytest.raises(ModelFormatError) as err:
        load(data, backend=backend, **kwargs)
    msg = str(err.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in: {msg}"
    return msg


onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

pytestmark = pytest.mark.host


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _model(nodes, inputs, outputs, inits=(), opset=13) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8  # what onnxruntime reads
    return model.SerializeToString()


def _conv(**attrs) -> bytes:
    w = np.zeros((4, 2, 3, 3), np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", **attrs)
    return _model([node], [_vi("x", [1, 2, 8, 8])], [_vi("y", None)], {"w": w})


@pytest.mark.parametrize("attrs, expect", [
    (dict(strides=[-2 ** 31, 1]), "strides [-2147483648, 1] must each be in 1..65536"),
    (dict(strides=[0, 1]), "strides [0, 1]"),
    (dict(dilations=[1, 0]), "dilations [1, 0]"),
    (dict(pads=[0, -1, 0, 0]), "pads [0, -1, 0, 0] must be non-negative"),
    (dict(pads=[0, 0, 2 ** 40, 0]), "at most the input plus the kernel"),
    (dict(kernel_shape=[5, 5]), "kernel_shape [5, 5] differs from the weights' [3, 3]"),
    (dict(group=2), "weights (4, 2, 3, 3) with group=2 do not fit an input of 2 channels"),
    (dict(dilations=[4, 4]), "does not fit input (1, 2, 8, 8)"),
    (dict(strides=[1, 1, 1]), "do not fit a 2-d kernel"),
])
def test_conv_geometry_is_checked(attrs, expect):
    refused(_conv(**attrs), "node 'conv1' (Conv)", "output 'y'", expect)


def test_conv_bias_of_the_wrong_length_is_refused():
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="c")
    data = _model([node], [_vi("x", [1, 2, 8, 8])], [_vi("y", None)],
                  {"w": np.zeros((4, 2, 3, 3), np.float32), "b": np.zeros(5, np.float32)})
    refused(data, "node 'c' (Conv), input 2 ('b')", "bias has shape (5,), expected (4,)")


@pytest.mark.parametrize("op, attrs, expect", [
    ("MaxPool", dict(kernel_shape=[0, 2]), "kernel_shape [0, 2] must each be in 1..65536"),
    ("MaxPool", dict(kernel_shape=[2]), "kernel_shape [2] must give 2 sizes"),
    ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, -1]), "strides [2, -1]"),
    ("AveragePool", dict(kernel_shape=[9, 9]), "kernel [9, 9] with pads [0, 0, 0, 0] does not fit input"),
])
def test_pool_sizes_are_checked(op, attrs, expect):
    data = _model([helper.make_node(op, ["x"], ["y"], name="pool", **attrs)], [_vi("x", [1, 2, 8, 8])],
                  [_vi("y", None)])
    refused(data, f"node 'pool' ({op})", expect)


@pytest.mark.parametrize("node, expect", [
    (helper.make_node("Concat", ["x", "x"], ["y"], name="n", axis=4), "axis 4 is out of range for rank 4"),
    (helper.make_node("Softmax", ["x"], ["y"], name="n", axis=-5), "axis -5 is out of range for rank 4"),
    (helper.make_node("Gather", ["x", "i"], ["y"], name="n", axis=7), "axis 7 is out of range"),
    (helper.make_node("Flatten", ["x"], ["y"], name="n", axis=5), "axis 5 is out of range"),
    (helper.make_node("Transpose", ["x"], ["y"], name="n", perm=[0, 1, 1, 3]), "perm [0, 1, 1, 3] is not"),
])
def test_axes_are_checked(node, expect):
    data = _model([node], [_vi("x", [1, 2, 8, 8])], [_vi("y", None)], {"i": np.array([0], np.int64)})
    refused(data, f"node 'n' ({node.op_type})", "'x'", expect)


def _with_const(op, const, expect_fragment, x_shape=(1, 2, 8, 8), extra_inputs=(), **attrs):
    node = helper.make_node(op, ["x", "k", *extra_inputs], ["y"], name="n", **attrs)
    data = _model([node], [_vi("x", list(x_shape))], [_vi("y", None)], {"k": const})
    refused(data, f"node 'n' ({op}), input 1 ('k')", expect_fragment)


@pytest.mark.parametrize("op, const, expect", [
    ("Reshape", np.array([1, 2, 65], np.int64), "shape [1, 2, 65] holds 130 values, the input (1, 2, 8, 8) has 128"),
    ("Reshape", np.array([-1, -1], np.int64), "several -1"),
    ("Expand", np.array([3, 1, 1], np.int64), "do not broadcast"),
    ("Expand", np.array([-4, 1], np.int64), "shape [-4, 1] has a negative dimension"),
    ("Tile", np.array([1, -1, 1, 1], np.int64), "repeats [1, -1, 1, 1] must be 4 non-negative counts"),
    ("Tile", np.array([2, 2], np.int64), "repeats [2, 2] must be 4"),
    ("Pad", np.array([0, 0, -9, 0, 0, 0, 0, 0], np.int64), "crop axis 2 of (1, 2, 8, 8) below nothing"),
    ("Pad", np.array([0, 0, 1], np.int64), "do not give a begin and end"),
    ("Split", np.array([1, 2], np.int64), "does not divide dimension 0"),
    ("Squeeze", np.array([1], np.int64), "squeezes axes [1] of (1, 2, 8, 8), not all of size 1"),
    ("Unsqueeze", np.array([9], np.int64), "unsqueeze axis 9 is out of range"),
])
def test_shape_inputs_are_checked(op, const, expect):
    _with_const(op, const, expect)


def test_slice_with_a_zero_step_is_refused():
    node = helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"], name="n")
    inits = {"s": np.array([0], np.int64), "e": np.array([4], np.int64), "a": np.array([2], np.int64),
             "st": np.array([0], np.int64)}
    refused(_model([node], [_vi("x", [1, 2, 8, 8])], [_vi("y", None)], inits), "node 'n' (Slice)",
            "input 4 ('st')", "steps [0] contain 0")


@pytest.mark.parametrize("scales, expect", [
    ([1, 1, -2, 2], "must be 4 finite positive factors"),
    ([1, 1, float("nan"), 2], "finite positive"),
    ([1, 1, 2], "must be 4 finite positive factors"),
])
def test_resize_scales_are_checked(scales, expect):
    node = helper.make_node("Resize", ["x", "", "sc"], ["y"], name="up", mode="nearest")
    data = _model([node], [_vi("x", [1, 2, 8, 8])], [_vi("y", None)], {"sc": np.array(scales, np.float32)})
    refused(data, "node 'up' (Resize), input 2 ('sc')", expect)


def test_resize_to_a_huge_size_is_refused_naming_the_tensor():
    node = helper.make_node("Resize", ["x", "", "", "sz"], ["big"], name="up", mode="nearest")
    data = _model([node], [_vi("x", [1, 2, 8, 8])], [_vi("big", None)],
                  {"sz": np.array([1, 2, 1 << 20, 1 << 20], np.int64)})
    refused(data, "node 'up' (Resize), output tensor 'big' of shape [1, 2, 1048576, 1048576]", "8192 GiB")


def test_a_tensor_far_larger_than_the_model_justifies_is_refused_below_the_ceiling():
    """512 MiB of zeros from a 4-byte input: under the 1 GiB ceiling, over the model's own bound."""
    node = helper.make_node("ConstantOfShape", ["shape"], ["zeros"], name="fill")
    data = _model([node, helper.make_node("Add", ["zeros", "x"], ["y"], name="add")], [_vi("x", [1])],
                  [_vi("y", None)], {"shape": np.array([1 << 14, 1 << 13], np.int64)})
    refused(data, "node 'fill' (ConstantOfShape), output tensor 'zeros' of shape [16384, 8192]", "512 MiB",
            "the model's bound of 64 MiB")


@pytest.mark.parametrize("nodes, expect", [
    ([helper.make_node("MatMul", ["x", "w"], ["y"], name="n")], "inner dimensions 8 and 3"),
    ([helper.make_node("Gemm", ["x2", "w"], ["y"], name="n")], "inner dimensions 16 and 3"),
    ([helper.make_node("Add", ["x", "w"], ["y"], name="n")], "do not broadcast"),
    ([helper.make_node("DepthToSpace", ["x"], ["y"], name="n", blocksize=0)], "blocksize 0 must be in 1..65536"),
    ([helper.make_node("Range", ["a", "a", "zero"], ["y"], name="n")], "has no finite length"),
    ([helper.make_node("ConstantOfShape", ["neg"], ["y"], name="n")], "has a negative dimension"),
])
def test_operand_shapes_are_checked(nodes, expect):
    inits = {"w": np.zeros((3, 5), np.float32), "a": np.array(0, np.int64), "zero": np.array(0, np.int64),
             "neg": np.array([2, -3], np.int64)}
    ins = [_vi("x", [1, 2, 8, 8]), _vi("x2", [2, 16])]
    data = _model(nodes, ins, [_vi("y", None)], inits)
    refused(data, f"node 'n' ({nodes[0].op_type})", expect)


def test_onnxruntime_never_sees_a_refused_model(monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    real, handed = ort.InferenceSession, []

    def spy(*args, **kwargs):
        handed.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    assert load(FIXTURE, backend="auto").backend.name == "onnxruntime" and len(handed) == 1
    handed.clear()
    for backend in ("auto", "onnxruntime"):
        refused(_conv(strides=[-2 ** 31, 1]), "node 'conv1' (Conv)", "strides [-2147483648, 1]", backend=backend)
    assert not handed


def test_legal_odd_geometry_still_loads():
    """Asymmetric pads, SAME_LOWER, dilation, grouped conv, ceil_mode pooling, negative Pad (a crop),
    Reshape with 0 and -1, Slice past the end: all legal, all accepted and run."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="c", group=2, dilations=[2, 1], pads=[0, 1, 2, 0]),
        helper.make_node("MaxPool", ["c"], ["p"], name="p", kernel_shape=[3, 2], ceil_mode=1, strides=[2, 2],
                         auto_pad="SAME_LOWER"),
        helper.make_node("Pad", ["p", "pads"], ["q"], name="q"),
        helper.make_node("Reshape", ["q", "rs"], ["r"], name="r"),
        helper.make_node("Slice", ["r", "st", "en"], ["y"], name="s"),
    ]
    inits = {"w": np.ones((4, 1, 3, 3), np.float32), "pads": np.array([0, 0, -1, 1, 0, 0, 0, 2], np.int64),
             "rs": np.array([0, -1], np.int64), "st": np.array([0, 1], np.int64),
             "en": np.array([1 << 62, 1 << 62], np.int64)}
    data = _model(nodes, [_vi("x", ["N", 2, 9, 7])], [_vi("y", None)], inits)
    ort = pytest.importorskip("onnxruntime")
    x = np.random.default_rng(0).standard_normal((2, 2, 9, 7)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = load(data, backend="numpy").run(x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_inferred_shapes_are_the_shapes_the_interpreter_computes():
    """On every ONNX node test the interpreter runs (test_backend_node.py), for the test's inputs: a
    shape the validator infers is the shape the kernel produces; most are known (the rest depend on
    values fed at run time, such as a Reshape target given as a graph input)."""
    from onnx.backend.test.loader import load_model_tests

    from edgewise.runtime import EdgewiseRuntimeError
    from edgewise.runtime.onnx import Interpreter, read_model, registry

    known = total = cases = 0
    for case in load_model_tests(kind="node"):
        if case.model is None or not case.data_sets:
            continue
        opsets = {o.domain: o.version for o in case.model.opset_import}
        if not all(registry.lookup(n.domain, n.op_type, opsets.get(n.domain, 0)) for n in case.model.graph.node):
            continue
        feeds = [np.asarray(x) for x in case.data_sets[0][0]]
        try:
            it = Interpreter(read_model(case.model.SerializeToString(), case.name), case.name)
            got = it.invoke_all(feeds)
        except EdgewiseRuntimeError:
            continue  # excluded from the node suite (test_backend_node.EXCLUDED), each with its reason
        cases += 1
        inferred = it.bounds.infer([f.shape for f in feeds])
        for node in case.model.graph.node:
            for name in node.output:
                if name and name in got:
                    total += 1
                    if inferred.get(name) is not None:
                        known += 1
                        assert inferred[name] == got[name].shape, f"{case.name}: {node.op_type} -> {name!r}"
    assert cases > 500 and known > 0.8 * total, (cases, known, total)


def test_a_size_given_as_an_input_is_checked_before_the_tensor_is_made():
    """ConstantOfShape of a shape fed at run time: unknown at load, checked against the ceiling with
    the fed values before the engine runs (backends/bounded.py), on both backends."""
    data = _model([helper.make_node("ConstantOfShape", ["dims"], ["zeros"], name="fill")],
                  [_vi("dims", [2], TensorProto.INT64)], [_vi("zeros", None)])
    for backend in ("numpy", "auto"):
        model = load(data, backend=backend)
        assert model.run(np.array([3, 4], np.int64))[0].shape == (3, 4)
        with pytest.raises(InputError, match=r"node 'fill' \(ConstantOfShape\), output tensor 'zeros' of shape "
                                             r"\[65536, 65536\] needs 16 GiB, over the ceiling of 1 GiB"):
            model.run(np.array([1 << 16, 1 << 16], np.int64))

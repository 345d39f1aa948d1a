"""The ONNX interpreter's prepared steps: invoke walks integer slots and never the per-node,
name-keyed path (`_run`, used by invoke_all and constant folding), and gives its results."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

from edgewise.runtime.onnx import Interpreter, read_model  # noqa: E402
from edgewise.runtime.onnx import interpreter as interp_mod  # noqa: E402

from .test_interpreter import _vi  # noqa: E402

pytestmark = pytest.mark.host


def _attention_block():
    """MatMul -> Softmax -> MatMul, LayerNormalization (3 outputs, 2 unused), Gelu: the transformer
    ops, with an omitted optional input (no LayerNormalization bias)."""
    rng = np.random.default_rng(0)
    wq = numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "wq")
    scale = numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "scale")
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="q"),
        helper.make_node("Transpose", ["x"], ["xt"], name="t", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "xt"], ["s"], name="scores"),
        helper.make_node("Softmax", ["s"], ["p"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["p", "x"], ["a"], name="mix"),
        helper.make_node("LayerNormalization", ["a", "scale", ""], ["n", "", ""], name="ln", axis=-1),
        helper.make_node("Gelu", ["n"], ["y"], name="gelu", approximate="tanh"),
    ]
    graph = helper.make_graph(nodes, "g", [_vi("x", [1, 4, 8])], [_vi("y", [1, 4, 8])], [wq, scale])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return m.SerializeToString()


def test_invoke_uses_the_slot_steps_and_matches_invoke_all(monkeypatch):
    it = Interpreter(read_model(_attention_block(), "a.onnx", None), "a.onnx")
    calls = []
    real = interp_mod.Interpreter._run
    monkeypatch.setattr(interp_mod.Interpreter, "_run", lambda self, *a: (calls.append(1), real(self, *a))[1])
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((1, 4, 8)).astype(np.float32) for _ in range(3)]
    outs = [it.invoke([x])[0] for x in xs for _ in range(30)]
    assert calls == []
    for x, got in zip(xs, outs[::30]):
        np.testing.assert_array_equal(got, it.invoke_all([x])["y"])
    assert calls  # invoke_all does take the per-node path


def _flatten_by_shape():
    """A dynamic-batch flatten as exporters write it: Shape -> Gather(0) -> Unsqueeze -> Concat with
    [-1] -> Reshape, then a MatMul. Only the Reshape and the MatMul depend on the input's values."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((24, 5)).astype(np.float32), "w")
    zero = numpy_helper.from_array(np.array(0, np.int64), "zero")
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="unsqueeze"),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "w"], ["y"], name="dense"),
    ]
    graph = helper.make_graph(nodes, "g", [_vi("x", ["n", 4, 6])], [_vi("y", ["n", 5])], [w, zero, axes, minus1])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_shape_arithmetic_is_folded_per_input_shape():
    it = Interpreter(read_model(_flatten_by_shape(), "f.onnx", None), "f.onnx")
    assert len(it._slots.steps) == 6  # nothing is constant at load: the batch is symbolic
    rng = np.random.default_rng(2)
    for n in (1, 3, 1, 7):
        x = rng.standard_normal((n, 4, 6)).astype(np.float32)
        (y,) = it.invoke([x])
        assert y.shape == (n, 5)
        np.testing.assert_array_equal(y, it.invoke_all([x])["y"])  # the file's nodes, one by one
    plans = it._shape_slots
    assert sorted(k[0][0] for k in plans) == [1, 3, 7]
    for slots in plans.values():
        assert [s.node.op_type for s in slots.plan] == ["Reshape", "MatMul"]

"""fold_affine: a constant per-channel Mul / Add after a Conv is folded into the Conv's weights.

Checked on hand-built graphs against onnxruntime (relative error <= 1e-5 of the largest output):
the fold happens when the Mul and Add are the sole readers, and not when an intermediate is a graph
output, is read twice, or the constant is not per channel.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgewise.runtime.onnx import Interpreter, read_model  # noqa: E402

from ..conformance.oracles import relative_error  # noqa: E402

C = 8


def _model(scale_shape=(1, C, 1, 1), shift_shape=(1, C, 1, 1), conv_out_is_output=False, read_twice=False,
           group=C, bias=True):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((C, C // group, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(scale_shape).astype(np.float32), "s"),
             numpy_helper.from_array(rng.standard_normal(shift_shape).astype(np.float32), "t")]
    conv_in = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(C).astype(np.float32), "b"))
        conv_in.append("b")
    nodes = [helper.make_node("Conv", conv_in, ["y"], group=group, pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["y", "s"], ["ys"]),
             helper.make_node("Add", ["t", "ys"], ["yst"]),
             helper.make_node("Relu", ["yst"], ["out"])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)]
    if conv_out_is_output:
        outputs.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))
    if read_twice:
        nodes.append(helper.make_node("Neg", ["ys"], ["neg"]))
        outputs.append(helper.make_tensor_value_info("neg", TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, "fold", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, C, 6, 6])],
                          outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


CASES = {
    # name: (model kwargs, tensors the fold removes)
    "depthwise": ({}, {"y", "ys"}),
    "dense-no-bias-scalar-scale": ({"group": 1, "bias": False, "scale_shape": ()}, {"y", "ys"}),
    "shift-not-per-channel": ({"shift_shape": (1, 1, 6, 1)}, {"y"}),
    "scale-along-width": ({"scale_shape": (6,)}, set()),  # broadcasts along the width axis
    "conv-output-kept": ({"conv_out_is_output": True}, set()),
    "mul-output-read-twice": ({"read_twice": True}, {"y"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fold_matches_onnxruntime(case):
    kwargs, gone = CASES[case]
    data = _model(**kwargs)
    it = Interpreter(read_model(data, case, "."), case)
    x = np.random.default_rng(1).standard_normal((2, C, 6, 6)).astype(np.float32)
    env = it.invoke_all([x])
    assert gone == {n for n in ("y", "ys") if n not in env}
    so = ort.SessionOptions()
    so.log_severity_level = 3
    ref = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = it.invoke([x])
    for g, r in zip(got, ref):
        assert g.shape == r.shape and relative_error(g, r) <= 1e-5

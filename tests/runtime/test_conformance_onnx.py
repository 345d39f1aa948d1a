"""The NumPy ONNX backend against onnxruntime on the conformance models exported from Keras.

float32: `keras.Model.export(format="onnx")` (tf2onnx), compared with onnxruntime at its default
optimization level: relative error <= 1e-5 (definition and reasoning in oracles.relative_error).

qdq: `onnxruntime.quantization.quantize_static` (QDQ, int8, per-channel weights). Two checks:

1. Integer ops are identical. For every QuantizeLinear / DequantizeLinear node of the real model,
   the backend's own input to that node is fed to onnxruntime running that single node (same scale,
   zero point, axis and opset), and the backend's output must equal it bit for bit.
2. End to end, relative error <= QDQ_RTOL against onnxruntime with graph optimizations disabled,
   i.e. running the graph as written (Q -> DQ -> float op -> Q ...), which is what the ONNX spec
   defines. It cannot be 1e-5: the float ops between Q/DQ pairs are free to sum in any order, a
   1-ulp difference that lands on a rounding boundary moves an int8 value by one step, and that step
   propagates. Measured: onnxruntime against itself (ORT_ENABLE_BASIC vs ORT_DISABLE_ALL, which
   only reorders float arithmetic) differs by 1.5e-2 on MobileNetV3-Small; 5e-2 bounds that with a
   margin while a wrong kernel (off by a scale, a zero point, an axis) gives errors of order 1.
   onnxruntime's default level is not the oracle here: it fuses QDQ into integer QLinear kernels
   with their own requantization rounding and differs from the unfused graph by up to 1.7 (the
   transformer), more than any useful tolerance.
"""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime import load

from .conformance.models import CONFORMANCE_MODELS
from .conformance.oracles import ort_first_divergence, ort_run, ort_session, relative_error

onnx = pytest.importorskip("onnx", reason="onnx builds the single-node oracle models")
pytest.importorskip("onnxruntime", reason="onnxruntime is the oracle for these tests")

FLOAT_RTOL = 1e-5
QDQ_RTOL = 5e-2
SEEDS = (0, 1)

# (model, variant) -> why it is expected to fail today. Strict: an entry that passes is an error.
KNOWN_GAPS: dict = {}


def _cases(variants):
    for name in CONFORMANCE_MODELS:
        for variant in variants:
            reason = KNOWN_GAPS.get((name, variant))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, variant, id=f"{name}-{variant}", marks=marks)


def _feeds(name: str, seed: int) -> list:
    return [CONFORMANCE_MODELS[name].input.sample(np.random.default_rng(seed))]


@pytest.mark.parametrize("name, variant", list(_cases(("float32", "qdq"))))
def test_numpy_matches_onnxruntime(model_store, name, variant):
    path = model_store.path(name, "onnx", variant)
    ref = ort_session(path, optimized=(variant == "float32"))
    model = load(path, backend="numpy")
    assert model.backend.name == "numpy"
    tol = FLOAT_RTOL if variant == "float32" else QDQ_RTOL
    for seed in SEEDS:
        feeds = _feeds(name, seed)
        expected = ort_run(ref, feeds)
        got = model.run(feeds)
        assert len(got) == len(expected)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert g.dtype == e.dtype and g.shape == e.shape, f"output {i}: {g.dtype}{g.shape} vs ORT {e.dtype}{e.shape}"
            err = relative_error(g, e)
            if err > tol:
                first = ort_first_divergence(path, feeds, model.run(feeds, keep_intermediates=True), FLOAT_RTOL)
                pytest.fail(f"{name}/{variant} output {i}, seed {seed}: relative error {err:.3g} > {tol}; "
                            f"first divergence (unoptimized onnxruntime): {first}")


def _single_node(node, graph, opset: int, x: np.ndarray):
    """A model holding only `node`, its constant inputs copied from `graph`, and `x` as a graph input."""
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in graph.initializer}
    x_name = node.input[0]
    consts = [inits[n] for n in node.input[1:] if n]
    missing = [n for n in node.input[1:] if n and n not in inits]
    if missing:
        raise AssertionError(f"node {node.name!r}: scale/zero point {missing} are not initializers")
    if node.op_type == "QuantizeLinear":
        out_type = numpy_helper.to_array(consts[1]).dtype if len(consts) > 1 else np.dtype(np.uint8)
    else:
        out_type = np.dtype(np.float32)
    elem = helper.np_dtype_to_tensor_dtype
    g = helper.make_graph(
        [node],
        "single",
        [helper.make_tensor_value_info(x_name, elem(x.dtype), list(x.shape))],
        [helper.make_tensor_value_info(node.output[0], elem(out_type), None)],
        initializer=consts,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 10)
    return m.SerializeToString()


@pytest.mark.parametrize("name", [p.values[0] for p in _cases(("qdq",))],
                         ids=[p.id for p in _cases(("qdq",))])
def test_qdq_integer_ops_identical(model_store, name):
    import onnxruntime as ort

    path = model_store.path(name, "onnx", "qdq")
    proto = onnx.load(str(path))
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    nodes = [n for n in proto.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert nodes, "quantize_static produced no Q/DQ nodes"
    model = load(path, backend="numpy")
    tensors = model.run(_feeds(name, 0), keep_intermediates=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    constants = {t.name for t in proto.graph.initializer}
    checked = 0
    for node in nodes:
        x_name, y_name = node.input[0], node.output[0]
        if x_name not in tensors:
            # Only a DequantizeLinear of a constant weight may be missing: the backend may fold it.
            assert x_name in constants, f"{node.op_type} {node.name!r}: input {x_name!r} missing from the intermediates"
            continue
        assert y_name in tensors, f"{node.op_type} {node.name!r}: output {y_name!r} missing from the intermediates"
        x = np.asarray(tensors[x_name])
        sess = ort.InferenceSession(_single_node(node, proto.graph, opset, x), so, providers=["CPUExecutionProvider"])
        (want,) = sess.run(None, {x_name: x})
        got = np.asarray(tensors[y_name])
        assert got.dtype == want.dtype, f"{node.op_type} {node.name!r}: dtype {got.dtype}, onnxruntime {want.dtype}"
        n_diff = int(np.count_nonzero(got != want))
        assert n_diff == 0, f"{node.op_type} {node.name!r} ({y_name}): {n_diff} of {want.size} values differ from onnxruntime"
        checked += 1
    assert checked > 0

"""The interpreter's graph passes: what each rewrites (graph level) and that the rewritten graph
computes the same arrays as the file's graph (exactness: `invoke`, which runs the optimized plan,
against `invoke_all`, which runs the file's ops one by one, and against `optimize=()`)."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite.interpreter import Interpreter
from edgewise.runtime.tflite.passes import fuse_activation, fuse_reshapes
from edgewise.runtime.tflite.passes.fold_constants import fold_constants
from edgewise.runtime.tflite.passes.fold_shapes import fold_shapes, static_tensors
from edgewise.runtime.tflite.passes.fuse_int8_chains import OP as TABLE_OP

from .graphs import Builder, op_names


def _same_as_file_graph(model, feeds):
    """invoke (plan with every pass) == invoke_all (the file's ops) == Interpreter(optimize=())."""
    it = Interpreter(model, "<test>")
    plain = Interpreter(model, "<test>", optimize=())
    got = it.invoke(feeds)
    every = it.invoke_all(feeds)
    names = [s.name for s in it.outputs]
    for g, ref, name in zip(got, plain.invoke(feeds), names):
        assert g.dtype == ref.dtype and g.shape == ref.shape
        np.testing.assert_array_equal(g, ref)
        np.testing.assert_array_equal(g, every[name])
    return it


# -- consecutive reshapes / transposes ------------------------------------------------------------
def _reshape_chain(extra_reader: bool):
    b = Builder()
    x = b.tensor("x", (2, 3, 4))
    s1 = b.tensor("s1", (2,), "int32", [6, 4])
    s2 = b.tensor("s2", (2,), "int32", [4, 6])
    mid = b.tensor("mid", (6, 4))
    y = b.tensor("y", (4, 6))
    b.op("RESHAPE", [x, s1], [mid])
    b.op("RESHAPE", [mid, s2], [y])
    outs = [y]
    if extra_reader:
        z = b.tensor("z", (6, 4))
        b.op("NEG", [mid], [z])
        outs.append(z)
    return b, x, outs


def test_fuse_reshapes_collapses_a_private_chain():
    b, x, outs = _reshape_chain(extra_reader=False)
    g = fuse_reshapes(b.graph([x], outs))
    assert op_names(g) == ("RESHAPE",)
    assert g.operators[0].inputs[0] == x and g.operators[0].outputs == (outs[0],)


def test_fuse_reshapes_keeps_an_intermediate_another_op_reads():
    b, x, outs = _reshape_chain(extra_reader=True)
    g = fuse_reshapes(b.graph([x], outs))
    assert op_names(g) == ("RESHAPE", "RESHAPE", "NEG")


def test_fused_reshapes_and_transposes_give_identical_arrays():
    b = Builder()
    x = b.tensor("x", (2, 3, 4))
    p1 = b.tensor("p1", (3,), "int32", [2, 0, 1])
    p2 = b.tensor("p2", (3,), "int32", [1, 2, 0])
    t1 = b.tensor("t1", (4, 2, 3))
    t2 = b.tensor("t2", (2, 3, 4))
    s = b.tensor("s", (2,), "int32", [6, -1])
    r1 = b.tensor("r1", (6, 4))
    s2 = b.tensor("s2", (1,), "int32", [24])
    y = b.tensor("y", (24,))
    b.op("TRANSPOSE", [x, p1], [t1])
    b.op("TRANSPOSE", [t1, p2], [t2])
    b.op("RESHAPE", [t2, s], [r1])
    b.op("RESHAPE", [r1, s2], [y])
    g = fuse_reshapes(b.graph([x], [y]))
    assert op_names(g) == ("TRANSPOSE", "RESHAPE")
    feeds = [np.arange(24, dtype=np.float32).reshape(2, 3, 4)]
    _same_as_file_graph(b.model([x], [y]), feeds)


# -- activation into the producer's output stage ---------------------------------------------------
def _fc_relu(dtype: str, relu_scale: float = 0.05, relu_zp: int = -128):
    b = Builder()
    rng = np.random.default_rng(3)
    if dtype == "float32":
        x = b.tensor("x", (2, 8))
        w = b.tensor("w", (5, 8), value=rng.standard_normal((5, 8)))
        bias = b.tensor("b", (5,), value=rng.standard_normal(5))
        y = b.tensor("y", (2, 5))
        out = b.tensor("out", (2, 5))
    else:
        x = b.tensor("x", (2, 8), "int8", scale=0.02, zero_point=3)
        w = b.tensor("w", (5, 8), "int8", rng.integers(-127, 128, (5, 8)), scale=0.01)
        bias = b.tensor("b", (5,), "int32", rng.integers(-500, 500, 5), scale=0.0002)
        y = b.tensor("y", (2, 5), "int8", scale=0.05, zero_point=-128)
        out = b.tensor("out", (2, 5), "int8", scale=relu_scale, zero_point=relu_zp)
    b.op("FULLY_CONNECTED", [x, w, bias], [y], fused_activation_function="NONE", keep_num_dims=False)
    b.op("RELU6", [y], [out])
    return b, x, out


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_fuse_activation_moves_relu6_into_fully_connected(dtype):
    b, x, out = _fc_relu(dtype)
    g = fuse_activation(b.graph([x], [out]))
    assert op_names(g) == ("FULLY_CONNECTED",)
    assert g.operators[0].options["fused_activation_function"] == "RELU6"
    assert g.operators[0].outputs == (out,)
    rng = np.random.default_rng(0)
    if dtype == "float32":
        feeds = [rng.standard_normal((2, 8)).astype(np.float32) * 3]
    else:
        feeds = [rng.integers(-128, 128, (2, 8)).astype(np.int8)]
    _same_as_file_graph(b.model([x], [out]), feeds)


def test_fuse_activation_leaves_a_requantizing_relu_alone():
    b, x, out = _fc_relu("int8", relu_scale=0.03, relu_zp=-100)
    g = fuse_activation(b.graph([x], [out]))
    assert op_names(g) == ("FULLY_CONNECTED", "RELU6")


# -- int8 elementwise chains -> tables ---------------------------------------------------------------
def _negate_chain(n: int):
    """int8 -> DEQUANTIZE -> NEG -> QUANTIZE -> int8, as converters emit for a negation."""
    b = Builder()
    x = b.tensor("x", (1, n), "int8", scale=0.037, zero_point=-5)
    f = b.tensor("f", (1, n))
    nf = b.tensor("nf", (1, n))
    y = b.tensor("y", (1, n), "int8", scale=0.041, zero_point=7)
    b.op("DEQUANTIZE", [x], [f])
    b.op("NEG", [f], [nf])
    b.op("QUANTIZE", [nf], [y])
    return b, x, y


def test_int8_chain_becomes_one_table_op_in_the_plan():
    b, x, y = _negate_chain(20)
    it = Interpreter(b.model([x], [y]), "<test>")
    plan = next(iter(it._exec_plans.values()))
    assert op_names(plan.graph) == (TABLE_OP,)


@pytest.mark.parametrize("n", [5, 20])  # below one vector block; 16 vector lanes + a 4-element tail
def test_int8_chain_table_is_exact_on_every_value_and_position(n):
    b, x, y = _negate_chain(n)
    values = np.arange(256, dtype=np.uint8).view(np.int8)
    model = b.model([x], [y])
    for start in range(0, 256, n):
        row = np.roll(values, -start)[:n].reshape(1, n)
        _same_as_file_graph(model, [row])


def test_int8_chain_stops_at_a_tensor_another_op_reads():
    b, x, y = _negate_chain(20)
    g = b.graph([x], [y])
    f = g.operators[0].outputs[0]
    z = b.tensor("z", (1, 20))
    b.op("ABS", [f], [z])  # a second reader of the float intermediate
    model = b.model([x], [y, z])
    it = _same_as_file_graph(model, [np.arange(20, dtype=np.int8).reshape(1, 20)])
    plan = next(iter(it._exec_plans.values()))
    assert TABLE_OP not in op_names(plan.graph)


# -- constant and shape folding -------------------------------------------------------------------------
def _dynamic_batch_flatten():
    """SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE: a Keras Flatten with a dynamic batch."""
    b = Builder()
    x = b.tensor("x", (1, 2, 3), batch_dynamic=True)
    shp = b.tensor("shape", (3,), "int32")
    begin = b.tensor("begin", (1,), "int32", [0])
    end = b.tensor("end", (1,), "int32", [1])
    stride = b.tensor("stride", (1,), "int32", [1])
    batch = b.tensor("batch", (), "int32")
    minus1 = b.tensor("minus1", (), "int32", -1)
    new_shape = b.tensor("new_shape", (2,), "int32")
    y = b.tensor("y", (1, 6), batch_dynamic=True)
    b.op("SHAPE", [x], [shp], out_type=2)
    b.op("STRIDED_SLICE", [shp, begin, end, stride], [batch], begin_mask=0, end_mask=0, ellipsis_mask=0,
         new_axis_mask=0, shrink_axis_mask=1, offset=False)
    b.op("PACK", [batch, minus1], [new_shape], values_count=2, axis=0)
    b.op("RESHAPE", [x, new_shape], [y])
    return b, x, y


def test_fold_shapes_turns_the_batch_arithmetic_into_constants():
    b, x, y = _dynamic_batch_flatten()
    g = b.graph([x], [y])
    folded = fold_shapes(g, {x: (4, 2, 3)})
    assert op_names(folded) == ("STRIDED_SLICE", "PACK", "RESHAPE")
    np.testing.assert_array_equal(folded.constants[g.operators[0].outputs[0]], [4, 2, 3])


def test_plans_per_batch_size_fold_the_shape_chain_and_stay_exact():
    b, x, y = _dynamic_batch_flatten()
    it = Interpreter(b.model([x], [y]), "<test>")
    for batch in (1, 3, 1):
        xs = np.arange(batch * 6, dtype=np.float32).reshape(batch, 2, 3)
        (got,) = it.invoke([xs])
        np.testing.assert_array_equal(got, xs.reshape(batch, 6))
        assert it.invoke_all([xs])["y"].shape == (batch, 6)
    assert sorted(k[0][0] for k in it._exec_plans) == [1, 3]
    for plan in it._exec_plans.values():
        assert op_names(plan.graph) == ("RESHAPE",)


def test_a_value_dependent_shape_is_not_static():
    b = Builder()
    x = b.tensor("x", (4,))
    idx = b.tensor("idx", (2, 1), "int64")  # WHERE's output: as many rows as true elements
    shp = b.tensor("shape", (2,), "int32")
    b.op("WHERE", [x], [idx])
    b.op("SHAPE", [idx], [shp], out_type=2)
    g = b.graph([x], [shp])
    static_shape, _ = static_tensors(g)
    assert idx not in static_shape
    assert op_names(fold_shapes(g, {x: (4,), idx: (2, 1)})) == ("WHERE", "SHAPE")


def test_fold_constants_evaluates_ops_on_constants_only():
    b = Builder()
    c = b.tensor("c", (3,), value=[1.0, -2.0, 3.0])
    nc = b.tensor("nc", (3,))
    x = b.tensor("x", (3,))
    y = b.tensor("y", (3,))
    b.op("NEG", [c], [nc])
    b.op("ADD", [x, nc], [y], fused_activation_function="NONE")
    g = b.graph([x], [y])
    folded = fold_constants(g, lambda op, consts: [-consts[op.inputs[0]]])
    assert op_names(folded) == ("ADD",)
    np.testing.assert_array_equal(folded.constants[nc], [-1.0, 2.0, -3.0])
    _same_as_file_graph(b.model([x], [y]), [np.array([0.5, 0.25, 4.0], np.float32)])


# -- float32 layer norm ----------------------------------------------------------------------------------
def _layer_norm(extra_reader: bool = False, n: int = 8):
    """The ten ops TFLiteConverter emits for keras LayerNormalization over the last axis."""
    b = Builder()
    rng = np.random.default_rng(5)
    x = b.tensor("x", (1, 4, n))
    axes = b.tensor("axes", (1,), "int32", [-1])
    eps = b.tensor("eps", (), value=1e-5)
    gamma = b.tensor("gamma", (1, 1, n), value=rng.uniform(0.5, 1.5, (1, 1, n)))
    t = {k: b.tensor(k, s) for k, s in [("m", (1, 4, 1)), ("nm", (1, 4, 1)), ("d", (1, 4, n)), ("v", (1, 4, 1)),
                                         ("ve", (1, 4, 1)), ("r", (1, 4, 1)), ("g", (1, 4, n)), ("a", (1, 4, n)),
                                         ("bx", (1, 4, n)), ("y", (1, 4, n))]}
    none = {"fused_activation_function": "NONE"}
    b.op("MEAN", [x, axes], [t["m"]], keep_dims=True)
    b.op("NEG", [t["m"]], [t["nm"]])
    b.op("SQUARED_DIFFERENCE", [x, t["m"]], [t["d"]])
    b.op("MEAN", [t["d"], axes], [t["v"]], keep_dims=True)
    b.op("ADD", [t["v"], eps], [t["ve"]], **none)
    b.op("RSQRT", [t["ve"]], [t["r"]])
    b.op("MUL", [t["r"], gamma], [t["g"]], **none)
    b.op("MUL", [t["nm"], t["g"]], [t["a"]], **none)
    b.op("MUL", [x, t["g"]], [t["bx"]], **none)
    b.op("ADD", [t["bx"], t["a"]], [t["y"]], **none)
    outs = [t["y"]]
    if extra_reader:
        outs.append(t["r"])  # a graph output inside the pattern: nothing may be fused away
    return b, x, outs


def test_fuse_layer_norm_replaces_the_ten_ops():
    from edgewise.runtime.tflite.passes import fuse_layer_norm
    from edgewise.runtime.tflite.passes.fuse_layer_norm import OP as LN_OP

    b, x, outs = _layer_norm()
    g = fuse_layer_norm(b.graph([x], outs))
    assert op_names(g) == (LN_OP,)
    assert g.operators[0].inputs[0] == x and g.operators[0].outputs == tuple(outs)
    b, x, outs = _layer_norm(extra_reader=True)
    assert len(fuse_layer_norm(b.graph([x], outs)).operators) == 10


@pytest.mark.parametrize("n", [8, 100])  # the centering matmul and the row sums (layer_norm.py)
def test_fused_layer_norm_is_within_float32_rounding_of_the_ten_ops(n):
    b, x, outs = _layer_norm(n=n)
    model = b.model([x], outs)
    fused, plain = Interpreter(model, "<test>"), Interpreter(model, "<test>", optimize=())
    rng = np.random.default_rng(6)
    for scale, shift in ((1.0, 0.0), (10.0, 3.0), (0.01, -2.0)):
        xs = (rng.standard_normal((1, 4, n)) * scale + shift).astype(np.float32)
        (got,), (ref,) = fused.invoke([xs]), plain.invoke([xs])
        gamma = model.main.tensors[3].dense_value().astype(np.float64)
        d = xs.astype(np.float64) - xs.mean(axis=-1, keepdims=True, dtype=np.float64)
        rstd = 1 / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)
        exact = d * rstd * gamma
        # the fused op rounds once, from float64
        np.testing.assert_allclose(got, exact, rtol=1e-6, atol=1e-6)
        # the ten ops round x * g and m * g (g = rstd * gamma) to float32 before subtracting them:
        # a few ulps of |x * g|, which a large mean against a small spread makes large
        ulps = 8 * np.finfo(np.float32).eps * np.abs(xs * rstd * gamma).max()
        assert np.abs(got - ref).max() <= ulps


# -- a reshape the flattening FULLY_CONNECTED does itself -----------------------------------------------
def test_reshape_before_fully_connected_is_dropped_per_plan_and_exact():
    from edgewise.runtime.tflite.passes.fuse_reshapes import fuse_reshape_into_fc

    b = Builder()
    rng = np.random.default_rng(7)
    x = b.tensor("x", (1, 4, 6), "int8", scale=0.05, zero_point=2)
    s = b.tensor("s", (2,), "int32", [-1, 6])
    flat = b.tensor("flat", (4, 6), "int8", scale=0.05, zero_point=2)
    w = b.tensor("w", (3, 6), "int8", rng.integers(-127, 128, (3, 6)), scale=0.02)
    y = b.tensor("y", (4, 3), "int8", scale=0.1, zero_point=-4)
    b.op("RESHAPE", [x, s], [flat])
    b.op("FULLY_CONNECTED", [flat, w, -1], [y], fused_activation_function="NONE", keep_num_dims=False)
    g = fuse_reshape_into_fc(b.graph([x], [y]), {flat: (4, 6)})
    assert op_names(g) == ("FULLY_CONNECTED",) and g.operators[0].inputs[0] == x
    assert op_names(fuse_reshape_into_fc(b.graph([x], [y]), {flat: (6, 4)})) == ("RESHAPE", "FULLY_CONNECTED")
    it = _same_as_file_graph(b.model([x], [y]), [rng.integers(-128, 128, (1, 4, 6)).astype(np.int8)])
    assert op_names(next(iter(it._exec_plans.values())).graph) == ("FULLY_CONNECTED",)

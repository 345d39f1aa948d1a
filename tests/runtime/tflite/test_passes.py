"""The interpreter's graph passes: what each rewrites (graph level) and that the rewritten graph
computes the same arrays as the file's graph (exactness: `invoke`, which runs the optimized plan,
against `invoke_all`, which runs the file's ops one by one, and against `optimize=()`)."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite.interpreter import Interpreter
from edgewise.runtime.tflite.passes import fuse_activation, fuse_pad, fuse_reshapes
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


# -- transposes into batch matmuls ----------------------------------------------------------------
def _attention_scores(dtype: str, extra_reader: bool = False, adj_y: bool = False):
    """BATCH_MATMUL(TRANSPOSE(q, (0, 2, 1, 3)), TRANSPOSE(k, (0, 2, 3, 1))): (1, 2, 16, 16) scores."""
    b = Builder()
    q_kw = dict(scale=0.05, zero_point=3) if dtype == "int8" else {}
    q = b.tensor("q", (1, 16, 2, 16), dtype, **q_kw)
    k = b.tensor("k", (1, 16, 2, 16), dtype, **(dict(scale=0.03, zero_point=-7) if dtype == "int8" else {}))
    p1 = b.tensor("p1", (4,), "int32", [0, 2, 1, 3])
    p2 = b.tensor("p2", (4,), "int32", [0, 2, 1, 3] if adj_y else [0, 2, 3, 1])
    qt = b.tensor("qt", (1, 2, 16, 16), dtype, **q_kw)
    kt_shape = (1, 2, 16, 16)
    kt = b.tensor("kt", kt_shape, dtype, **(dict(scale=0.03, zero_point=-7) if dtype == "int8" else {}))
    s = b.tensor("s", (1, 2, 16, 16), dtype, **(dict(scale=0.7, zero_point=-2) if dtype == "int8" else {}))
    b.op("TRANSPOSE", [q, p1], [qt])
    b.op("TRANSPOSE", [k, p2], [kt])
    b.op("BATCH_MATMUL", [qt, kt], [s], adj_x=False, adj_y=adj_y)
    outs = [s]
    if extra_reader:
        z = b.tensor("z", kt_shape, dtype, **(dict(scale=0.03, zero_point=-7) if dtype == "int8" else {}))
        b.op("NEG" if dtype == "float32" else "RELU", [kt], [z])
        outs.append(z)
    return b, (q, k), outs


def test_fuse_transpose_matmul_absorbs_private_transposes():
    from edgewise.runtime.tflite.passes import fuse_transpose_matmul

    b, (q, k), outs = _attention_scores("int8")
    g = fuse_transpose_matmul(b.graph([q, k], outs))
    assert op_names(g) == ("EDGEWISE_BATCH_MATMUL",)
    assert g.operators[0].inputs[:2] == (q, k)
    b, (q, k), outs = _attention_scores("int8", extra_reader=True)
    g = fuse_transpose_matmul(b.graph([q, k], outs))
    assert op_names(g) == ("TRANSPOSE", "EDGEWISE_BATCH_MATMUL", "RELU")  # kt is read twice: kept
    assert g.operators[1].inputs[0] == q and g.operators[1].inputs[3] == -1


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("adj_y", [False, True])
def test_fused_transpose_matmul_gives_identical_arrays(dtype, adj_y):
    b, (q, k), outs = _attention_scores(dtype, adj_y=adj_y)
    rng = np.random.default_rng(0)
    for _ in range(3):
        if dtype == "int8":
            feeds = [rng.integers(-128, 128, (1, 16, 2, 16)).astype(np.int8) for _ in range(2)]
            feeds[0][0, :2] = 127  # saturating products
            feeds[1][0, :2] = -128
        else:
            feeds = [rng.standard_normal((1, 16, 2, 16)).astype(np.float32) for _ in range(2)]
        it = _same_as_file_graph(b.model([q, k], outs), feeds)
    assert "EDGEWISE_BATCH_MATMUL" in [op.op for op in it._optimized.operators]


# -- negative-index wrapping into gathers ---------------------------------------------------------
def _wrapped_gather(n: int = 10, extra_reader: bool = False, offset: int = None):
    """GATHER(table, SELECT_V2(LESS(i, 0), ADD(i, n), i)) on a (n, 4) table, i of shape (2, 3)."""
    b = Builder()
    table = b.tensor("table", (n, 4), value=np.arange(4 * n, dtype=np.float32).reshape(n, 4))
    i = b.tensor("i", (2, 3), "int32")
    zero = b.tensor("zero", (), "int32", 0)
    size = b.tensor("n", (), "int32", n if offset is None else offset)
    c = b.tensor("c", (2, 3), "bool")
    j = b.tensor("j", (2, 3), "int32")
    k = b.tensor("k", (2, 3), "int32")
    y = b.tensor("y", (2, 3, 4))
    b.op("LESS", [i, zero], [c])
    b.op("ADD", [i, size], [j], fused_activation_function="NONE")
    b.op("SELECT_V2", [c, j, i], [k])
    b.op("GATHER", [table, k], [y], axis=0, batch_dims=0)
    outs = [y]
    if extra_reader:
        outs.append(k)
    return b, i, outs


def test_fuse_gather_wrap_replaces_the_four_ops():
    from edgewise.runtime.tflite.passes import fuse_gather_wrap

    b, i, outs = _wrapped_gather()
    g = fuse_gather_wrap(b.graph([i], outs))
    assert op_names(g) == ("EDGEWISE_GATHER",)
    assert g.operators[0].inputs[1] == i
    for kw in (dict(extra_reader=True), dict(offset=9)):  # k is read elsewhere / not the table size
        b, i, outs = _wrapped_gather(**kw)
        assert op_names(fuse_gather_wrap(b.graph([i], outs)))[-1] == "GATHER"


def test_fused_gather_wrap_gives_identical_arrays_and_errors():
    b, i, outs = _wrapped_gather()
    idx = np.array([[0, -1, 9], [-10, 5, -3]], np.int32)
    it = _same_as_file_graph(b.model([i], outs), [idx])
    assert "EDGEWISE_GATHER" in [op.op for op in it._optimized.operators]
    plain = Interpreter(b.model([i], outs), "<test>", optimize=())
    for bad in (10, -11, np.iinfo(np.int32).max):
        idx[0, 0] = bad
        for interp in (it, plain):
            with pytest.raises(Exception, match="GATHER index out of range"):
                interp.invoke([idx])


def test_identity_reshapes_are_dropped_per_plan_and_exact():
    from edgewise.runtime.tflite.passes.fuse_reshapes import drop_identity_reshapes

    b = Builder()
    x = b.tensor("x", (1, 2, 5), "int8", scale=0.05, zero_point=2, batch_dynamic=True)
    s = b.tensor("s", (3,), "int32", [-1, 2, 5])
    same = b.tensor("same", (1, 2, 5), "int8", scale=0.05, zero_point=2, batch_dynamic=True)
    y = b.tensor("y", (1, 2, 5), "int8", scale=0.05, zero_point=2, batch_dynamic=True)
    out = b.tensor("out", (1, 2, 5), "int8", scale=0.05, zero_point=2, batch_dynamic=True)
    b.op("RESHAPE", [x, s], [same])
    b.op("RELU", [same], [y])
    b.op("RESHAPE", [y, s], [out])  # a graph output: kept
    g = drop_identity_reshapes(b.graph([x], [out]), {x: (1, 2, 5), same: (1, 2, 5), y: (1, 2, 5), out: (1, 2, 5)})
    assert op_names(g) == ("RELU", "RESHAPE") and g.operators[0].inputs == (x,)
    g = drop_identity_reshapes(b.graph([x], [out]), {x: (1, 10), same: (1, 2, 5), y: (1, 2, 5), out: (1, 2, 5)})
    assert op_names(g) == ("RESHAPE", "RELU", "RESHAPE")  # not the identity for that shape
    feeds = [np.random.default_rng(0).integers(-128, 128, (3, 2, 5)).astype(np.int8)]
    it = _same_as_file_graph(b.model([x], [out]), feeds)
    assert op_names(it._exec_plans[((3, 2, 5),)].graph) == ("RELU", "RESHAPE")


# -- pad into convolution ----------------------------------------------------------------------------
def _pad_conv(dtype: str, op: str, pads, k: int, stride: int, size: int = 8, fill=None):
    """x -> PAD(pads on H and W) -> VALID conv (k x k, stride) -> y; int8 with one scale per tensor."""
    rng = np.random.default_rng(1)
    b = Builder()
    q = {"scale": 0.05, "zero_point": -7} if dtype == "int8" else {}
    c = 4
    (pt, pb), (pl, pr) = pads
    x = b.tensor("x", (1, size, size, c), dtype, **q)
    pad_t = b.tensor("pads", (4, 2), "int32", [[0, 0], [pt, pb], [pl, pr], [0, 0]])
    xp = b.tensor("xp", (1, size + pt + pb, size + pl + pr, c), dtype, **q)
    out = (size + pt + pb - k) // stride + 1
    wq = {"scale": 0.02, "zero_point": 0} if dtype == "int8" else {}
    w_shape = (1, k, k, c) if op == "DEPTHWISE_CONV_2D" else (3, k, k, c)
    n_out = w_shape[0] if op == "CONV_2D" else c
    w_val = rng.integers(-127, 128, w_shape) if dtype == "int8" else rng.standard_normal(w_shape)
    w = b.tensor("w", w_shape, dtype, w_val, **wq)
    bias = b.tensor("b", (n_out,), "int32" if dtype == "int8" else "float32",
                    rng.integers(-500, 500, n_out) if dtype == "int8" else rng.standard_normal(n_out),
                    **({"scale": 0.001} if dtype == "int8" else {}))
    y = b.tensor("y", (1, out, out, n_out), dtype, **({"scale": 0.1, "zero_point": 3} if dtype == "int8" else {}))
    if fill is None:
        b.op("PAD", [x, pad_t], [xp])
    else:
        value = b.tensor("value", (), dtype, fill, **q)
        b.op("PADV2", [x, pad_t, value], [xp])
    geometry = dict(padding="VALID", stride_h=stride, stride_w=stride, dilation_h_factor=1, dilation_w_factor=1,
                    fused_activation_function="NONE")
    if op == "DEPTHWISE_CONV_2D":
        geometry["depth_multiplier"] = 1
    b.op(op, [xp, w, bias], [y], **geometry)
    if dtype == "int8":
        feeds = [rng.integers(-128, 128, (1, size, size, c)).astype(np.int8)]
    else:
        feeds = [rng.standard_normal((1, size, size, c)).astype(np.float32)]
    return b, x, y, feeds


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("pads, k, stride, size", [(((0, 1), (0, 1)), 3, 2, 8),  # MobileNet's correct_pad
                                                   (((1, 1), (1, 1)), 3, 1, 6),
                                                   (((1, 2), (1, 2)), 4, 1, 7)])
def test_fuse_pad_turns_same_pads_into_same_padding(dtype, op, pads, k, stride, size):
    b, x, y, feeds = _pad_conv(dtype, op, pads, k, stride, size)
    g = fuse_pad(b.graph([x], [y]))
    assert op_names(g) == (op,)
    assert g.operators[0].options["padding"] == "SAME" and g.operators[0].inputs[0] == x
    it = _same_as_file_graph(b.model([x], [y]), feeds)
    assert op_names(it._optimized) == (op,)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("pads, k, stride, size", [(((3, 3), (3, 3)), 7, 2, 16),  # ResNet's stem (SAME: (2, 3))
                                                   (((0, 1), (1, 0)), 3, 2, 8),  # not SAME's split
                                                   (((2, 0), (0, 3)), 3, 1, 5)])
def test_fuse_pad_makes_other_pads_explicit_padding(dtype, op, pads, k, stride, size):
    b, x, y, feeds = _pad_conv(dtype, op, pads, k, stride, size)
    g = fuse_pad(b.graph([x], [y]))
    assert op_names(g) == (op,)
    o = g.operators[0].options
    assert o["padding"] == "EXPLICIT" and o["explicit_padding"] == pads
    _same_as_file_graph(b.model([x], [y]), feeds)


@pytest.mark.parametrize("pads, k, fill", [(((1, 1), (1, 1)), 3, 2.5),  # PADV2 with another fill than zero
                                           (((1, 1), (1, 1)), 1, None)])  # a 1x1 kernel
def test_fuse_pad_keeps_a_pad_it_cannot_fold(pads, k, fill):
    b, x, y, feeds = _pad_conv("float32", "CONV_2D", pads, k, 1, 6, fill)
    assert op_names(fuse_pad(b.graph([x], [y]))) == ("PADV2" if fill is not None else "PAD", "CONV_2D")
    _same_as_file_graph(b.model([x], [y]), feeds)


def test_converted_zero_padding_becomes_the_convolutions_padding(converted):
    """The real converter's PAD + VALID convolutions (the `padded` model of conftest): it folds the
    MobileNet-style pads into SAME itself; ResNet's ZeroPadding2D(3) stays a PAD in the file and
    becomes explicit padding here. test_tflite_ops checks the results against LiteRT."""
    from edgewise.runtime.tflite import read_model

    for kind in ("float32", "int8"):
        it = Interpreter(read_model(converted.get("padded", kind), "<padded>"), "<padded>")
        assert [op.op for op in it._reference.operators].count("PAD") >= 1
        assert "PAD" not in [op.op for op in it._optimized.operators]
        assert any(op.options.get("padding") == "EXPLICIT" for op in it._optimized.operators)

"""The transformer fusions: transposes into batch matmuls, negative-index wrapping into gathers,
identity reshapes dropped per plan; graph level and exactness as in test_passes.py."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite.interpreter import Interpreter

from .graphs import Builder, op_names
from .test_passes import _same_as_file_graph


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

"""The prepared execution plan: planning happens once per input shape, never per call."""
from __future__ import annotations

import collections

import numpy as np

from edgewise.runtime.tflite import interpreter as interp_mod
from edgewise.runtime.tflite import plan as plan_mod
from edgewise.runtime.tflite.interpreter import Interpreter
from edgewise.runtime.tflite.ops import KERNELS, common, conv, pooling, reshape
from edgewise.runtime.tflite.ops import context

from .graphs import Builder


def _small_cnn():
    """conv (SAME) -> max pool -> dynamic-batch flatten (SHAPE chain) -> FC -> softmax, float32."""
    b = Builder()
    rng = np.random.default_rng(0)
    x = b.tensor("x", (1, 6, 6, 2), batch_dynamic=True)
    w = b.tensor("w", (4, 3, 3, 2), value=rng.standard_normal((4, 3, 3, 2)))
    cb = b.tensor("cb", (4,), value=rng.standard_normal(4))
    c = b.tensor("c", (1, 6, 6, 4), batch_dynamic=True)
    p = b.tensor("p", (1, 3, 3, 4), batch_dynamic=True)
    shp = b.tensor("shape", (4,), "int32")
    begin = b.tensor("begin", (1,), "int32", [0])
    end = b.tensor("end", (1,), "int32", [1])
    stride = b.tensor("stride", (1,), "int32", [1])
    batch = b.tensor("batch", (), "int32")
    minus1 = b.tensor("minus1", (), "int32", -1)
    new_shape = b.tensor("new_shape", (2,), "int32")
    flat = b.tensor("flat", (1, 36), batch_dynamic=True)
    fw = b.tensor("fw", (5, 36), value=rng.standard_normal((5, 36)))
    logits = b.tensor("logits", (1, 5), batch_dynamic=True)
    y = b.tensor("y", (1, 5), batch_dynamic=True)
    b.op("CONV_2D", [x, w, cb], [c], padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1,
         dilation_w_factor=1, fused_activation_function="RELU")
    b.op("MAX_POOL_2D", [c], [p], padding="VALID", stride_h=2, stride_w=2, filter_height=2, filter_width=2,
         fused_activation_function="NONE")
    b.op("SHAPE", [p], [shp], out_type=2)
    b.op("STRIDED_SLICE", [shp, begin, end, stride], [batch], begin_mask=0, end_mask=0, ellipsis_mask=0,
         new_axis_mask=0, shrink_axis_mask=1, offset=False)
    b.op("PACK", [batch, minus1], [new_shape], values_count=2, axis=0)
    b.op("RESHAPE", [p, new_shape], [flat])
    b.op("FULLY_CONNECTED", [flat, fw, -1], [logits], fused_activation_function="NONE", keep_num_dims=False)
    b.op("SOFTMAX", [logits], [y], beta=1.0)
    return b.model([x], [y])


def _count(monkeypatch, counts, owner, name):
    fn = getattr(owner, name)

    def counted(*a, **k):
        counts[name] += 1
        return fn(*a, **k)

    monkeypatch.setattr(owner, name, counted)


def test_invoke_does_no_planning_or_shape_inference(monkeypatch):
    counts = collections.Counter()
    for op_name in list(KERNELS):
        builder = KERNELS[op_name]
        monkeypatch.setitem(KERNELS, op_name, (lambda b_, n_: lambda ctx: (counts.update(["build"]), b_(ctx))[1])(
            builder, op_name))
    _count(monkeypatch, counts, interp_mod.Interpreter, "_plan_for")
    _count(monkeypatch, counts, interp_mod, "fold_shapes")
    _count(monkeypatch, counts, interp_mod, "fold_constants")
    _count(monkeypatch, counts, plan_mod.ExecutionPlan, "__init__")
    _count(monkeypatch, counts, context.OpContext, "__init__")
    _count(monkeypatch, counts, common, "out_size_and_pad")
    _count(monkeypatch, counts, conv, "out_size_and_pad")
    _count(monkeypatch, counts, pooling, "out_size_and_pad")
    _count(monkeypatch, counts, reshape, "resolve_shape")

    it = Interpreter(_small_cnn(), "<test>")
    assert counts["build"] >= 8 and counts["_plan_for"] == 1 and counts["__init__"] >= 1
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((1, 6, 6, 2)).astype(np.float32) for _ in range(4)]
    it.invoke([xs[0]])
    after_first = collections.Counter(counts)
    for k in range(200):
        it.invoke([xs[k % 4]])
    assert counts == after_first, {k: counts[k] - after_first[k] for k in counts if counts[k] != after_first[k]}

    # a new batch size makes exactly one more plan, which is then reused
    x3 = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    (y3,) = it.invoke([x3])
    planned = counts["_plan_for"]
    assert planned == 2
    for _ in range(50):
        it.invoke([x3])
        it.invoke([xs[0]])
    assert counts["_plan_for"] == planned
    np.testing.assert_array_equal(y3, it.invoke_all([x3])["y"])


def test_plan_results_equal_the_op_by_op_run():
    it = Interpreter(_small_cnn(), "<test>")
    rng = np.random.default_rng(2)
    for batch in (1, 2, 1):
        x = rng.standard_normal((batch, 6, 6, 2)).astype(np.float32)
        (got,) = it.invoke([x])
        np.testing.assert_array_equal(got, it.invoke_all([x])["y"])
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_plan_drops_intermediates_after_their_last_reader():
    it = Interpreter(_small_cnn(), "<test>")
    plan = next(iter(it._exec_plans.values()))
    x = np.zeros((1, 6, 6, 2), np.float32)
    env = plan._template.copy()
    env[plan._inputs[0]] = x
    for step in plan.steps:
        step(env)
    live = [i for i, v in enumerate(env[:-1]) if v is not None and i not in plan.graph.constants]
    assert sorted(live) == sorted(plan.graph.outputs)  # the input too: the caller holds it

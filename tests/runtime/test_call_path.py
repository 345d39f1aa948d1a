"""What a repeated `Model.run` costs beyond the plan: after the first call with a signature, no input
checks, no shape inference for the size bounds, no planning; and sizes that depend on an input's
values are still checked on every new value."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from edgewise.runtime import InputError, load
from edgewise.runtime import model as model_mod
from edgewise.runtime.backends.bounded import BoundedEngine
from edgewise.runtime.tflite.interpreter import Interpreter
from edgewise.runtime.tflite import validate as tflite_validate

from .tflite.test_plan import _count

pytest.importorskip("tensorflow")  # the conformance models are converted with the real converter


def test_token_ids_feed_a_gather_so_new_values_need_no_new_checks(model_store, monkeypatch):
    """The transformer's int32 token ids are a small integer input (what could be a shape), but they
    only index an embedding: once a call has shown that, every later call skips the checks."""
    path = model_store.path("transformer", "tflite", "int8")
    model = load(str(path), backend="numpy")
    counts = collections.Counter()
    _count(monkeypatch, counts, tflite_validate, "_infer")
    _count(monkeypatch, counts, model_mod.Model, "_prepare")
    _count(monkeypatch, counts, BoundedEngine, "_check")
    _count(monkeypatch, counts, Interpreter, "invoke")
    rng = np.random.default_rng(0)
    spec = model.inputs[0]
    shape = tuple(1 if d is None else d for d in spec.shape)
    ids = [rng.integers(0, 64, size=shape, dtype=np.int32) for _ in range(50)]
    first = model.run(ids[0])[0]
    after_first = collections.Counter(counts)
    assert after_first["_check"] == after_first["invoke"] == 1
    outs = [model.run(x)[0] for x in ids]
    assert counts == after_first, {k: counts[k] - after_first[k] for k in counts}
    np.testing.assert_array_equal(outs[0], first)
    # the fast path gives what the full path gives
    for x, y in zip(ids[:5], outs[:5]):
        np.testing.assert_array_equal(model.run({spec.name: x.tolist()})[0], y)
    # another dtype or a non-contiguous array takes the full path (and its errors)
    with pytest.raises(InputError, match="values outside the range of int32"):
        model.run(np.full(shape, 1 << 40, np.int64))
    wide = np.tile(ids[1], 2)
    np.testing.assert_array_equal(model.run(wide[:, ::2])[0], model.run(np.ascontiguousarray(wide[:, ::2]))[0])


def test_a_size_taken_from_an_input_is_checked_for_every_new_value():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("ConstantOfShape", ["dims"], ["zeros"], name="fill")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("dims", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("zeros", TensorProto.FLOAT, None)])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    model = load(data, backend="numpy")
    for _ in range(3):  # the same signature many times: each value is still checked
        assert model.run(np.array([3, 4], np.int64))[0].shape == (3, 4)
        with pytest.raises(InputError, match=r"shape \[65536, 65536\] needs 16 GiB"):
            model.run(np.array([1 << 16, 1 << 16], np.int64))
    assert onnx  # imported for the helper above

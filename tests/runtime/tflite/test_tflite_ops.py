"""The NumPy interpreter against LiteRT's builtin kernels, op family by op family.

Every tensor the graph computes is compared, not only the outputs, so a mismatch names the op.
int8 must be identical; float32 within rtol 1e-5 (plus an absolute 1e-5 of the tensor's largest
magnitude, for values near zero where summation order alone decides the last bits).
"""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite import Interpreter, read_model

from .conftest import MODELS, litert_run, random_feeds

BATCH = 16


def assert_tensor_matches(name, got, want, kind):
    assert got.shape == want.shape, f"{name}: shape {got.shape} != LiteRT {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != LiteRT {want.dtype}"
    if got.dtype.kind == "f":
        tol = 1e-5 * max(1.0, float(np.abs(want).max(initial=0)))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=tol, err_msg=name)
    else:
        n_bad = int(np.sum(got != want))
        assert n_bad == 0, f"{name} ({kind}): {n_bad} of {got.size} values differ from LiteRT"


def compare_with_litert(data: bytes, kind: str, seed: int = 0, batch: int = BATCH):
    model = read_model(data, "model.tflite")
    it = Interpreter(model, "model.tflite")
    feeds = random_feeds(it.inputs, batch, seed)
    want_outs, want_all = litert_run(data, feeds, keep_all=True)
    got_all = it.invoke_all(feeds)
    sg = model.main
    checked = 0
    for op in sg.operators:
        for i in op.outputs:
            t = sg.tensors[i]
            assert_tensor_matches(f"op #{op.index} {op.op} -> {t.name!r}", got_all[t.name], want_all[i], kind)
            checked += 1
    got_outs = it.invoke(feeds)
    for spec, g, w in zip(it.outputs, got_outs, want_outs):
        assert_tensor_matches(f"output {spec.name!r}", g, w, kind)
    return model, checked


FLOAT_ONLY = {"misc_ops"}  # float math (SIN, COS, LOG, POW, ...) that has no int8 kernel in LiteRT


@pytest.mark.parametrize("name, kind", [(n, k) for n in sorted(MODELS) for k in ("float32", "int8")
                                        if not (k == "int8" and n in FLOAT_ONLY)])
def test_matches_litert(converted, name, kind):
    data = converted.get(name, kind)
    model, checked = compare_with_litert(data, kind)
    assert checked == sum(len(op.outputs) for op in model.main.operators) > 0


@pytest.mark.parametrize("name", ["hybrid", "demo"])
def test_dynamic_range_matches_litert(converted, name):
    """Float activations with int8 weights: LiteRT quantizes each input row on the fly."""
    data = converted.get(name, "dynamic")
    model, _ = compare_with_litert(data, "dynamic")
    hybrid_ops = [op.op for op in model.main.operators
                  if len(op.inputs) > 1 and op.inputs[1] >= 0 and model.main.tensors[op.inputs[1]].dtype == "int8"
                  and model.main.tensors[op.inputs[0]].dtype == "float32"]
    assert hybrid_ops
    if name == "hybrid":
        assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(hybrid_ops)


def test_demo_int8_ops_are_the_expected_ones(converted):
    """The demo exercises the kernels it is meant to: guard against the converter folding them away."""
    ops = {op.op for op in read_model(converted.get("demo", "int8"), "demo").main.operators}
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE"} <= ops


def test_more_inputs_int8_demo(converted):
    """Several seeds: rounding ties in requantization show up only for some inputs."""
    data = converted.get("demo", "int8")
    for seed in range(1, 4):
        compare_with_litert(data, "int8", seed=seed, batch=64)


def test_invoke_all_returns_named_intermediates(converted):
    data = converted.get("demo", "float32")
    model = read_model(data, "demo.tflite")
    it = Interpreter(model, "demo.tflite")
    feeds = random_feeds(it.inputs, 2, 0)
    every = it.invoke_all(feeds)
    sg = model.main
    produced = [sg.tensors[i].name for op in sg.operators for i in op.outputs]
    assert set(produced) <= set(every)
    assert it.inputs[0].name in every
    conv_out = sg.tensors[sg.operators[0].outputs[0]]
    assert every[conv_out.name].shape == (2,) + conv_out.shape[1:]
    np.testing.assert_array_equal(every[it.outputs[0].name], it.invoke(feeds)[0])


def test_specs_match_litert_details(converted):
    mod = pytest.importorskip("ai_edge_litert.interpreter")
    for kind in ("float32", "int8"):
        data = converted.get("mixed", kind)
        it = Interpreter(read_model(data, "m"), "m")
        ref = mod.Interpreter(model_content=data)
        for spec, d in zip(it.inputs + it.outputs, ref.get_input_details() + ref.get_output_details()):
            assert spec.name == d["name"]
            assert spec.dtype == np.dtype(d["dtype"]).name
            assert spec.shape == tuple(None if s < 0 else int(s) for s in d["shape_signature"])
            scales = d["quantization_parameters"]["scales"]
            if len(scales):
                assert spec.quantization.scale == tuple(float(s) for s in scales)
                assert spec.quantization.zero_point == tuple(int(z) for z in d["quantization_parameters"]["zero_points"])
            else:
                assert spec.quantization is None
        assert it.resizable_batch

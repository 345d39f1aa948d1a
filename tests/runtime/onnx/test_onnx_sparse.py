"""Sparse weight plans in the NumPy ONNX backend (ops/planned.py), against onnxruntime.

Pruned Keras models, exported the way users export them (`model.export(format="onnx")`, tf2onnx)
and quantized the way the SDK does (onnxruntime's quantize_static, QDQ, per-channel int8 weights):
an MLP and a CNN whose weights are magnitude-pruned to 92 % zeros, or pruned in 16x1 blocks
(16 consecutive output channels of one input) to 95 %. The masks are set directly on the weights,
which is what a pruning schedule leaves behind. In the QDQ files the weights reach MatMul / Conv
through DequantizeLinear of int8 initializers, which the interpreter folds (zeros stay zeros).

Oracles: float32 against onnxruntime (default optimisations), relative error <= 1e-5 of the
largest output (oracles.relative_error). QDQ against onnxruntime running the graph as written
(ORT_DISABLE_ALL), as test_conformance_onnx explains: a sparse layout sums in another order than
BLAS, a 1-ulp difference can cross a rounding boundary of the next QuantizeLinear, so int8
tensors may differ by one step in a few places (asserted: never more than one step, in under 1 %
of the values) and the float output by a few steps of its scale.

The integer ops (QLinearMatMul, MatMulInteger, QLinearConv, ConvInteger) with constant block-sparse
and dense weights are built with onnx.helper and must equal onnxruntime exactly.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytest.importorskip("keras")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgewise.runtime.onnx import Interpreter, read_model  # noqa: E402

from ..conformance.oracles import relative_error  # noqa: E402

pytestmark = [pytest.mark.host, pytest.mark.slow]

SPARSE_KINDS = ("csr", "nm", "block")
FLOAT_RTOL = 1e-5
# Layers at least this large (out * in) gain 2.5-3.5x from 16x1 blocks at 95 % (runtime/sparse/plan.py),
# a margin no timing noise at load closes; smaller ones may go either way.
SURELY_SPARSE_SIZE = 1 << 17


@pytest.fixture(autouse=True)
def _cost_model_only(monkeypatch):
    """Plans chosen by runtime/sparse/plan.py's cost model, no timing: what is asserted is deterministic."""
    monkeypatch.setenv("EDGEWISE_SPARSE_TIMING", "0")
BLOCK = (16, 1)
ARCHS = ("mlp", "cnn")
PRUNINGS = {"magnitude": 0.92, "block": 0.95}


def _keep_largest(score: np.ndarray, keep_fraction: float) -> np.ndarray:
    k = max(1, int(round(score.size * keep_fraction)))
    keep = np.zeros(score.size, bool)
    keep[np.argsort(-score.ravel(), kind="stable")[:k]] = True
    return keep.reshape(score.shape)


def prune_mask(w: np.ndarray, how: str, sparsity: float) -> np.ndarray:
    """Mask of an (out, in) matrix: the largest |w| (magnitude), or the 16x1 blocks of largest L1 norm."""
    out, cin = w.shape
    if how == "block" and out % BLOCK[0] == 0:
        norms = np.abs(w).reshape(out // BLOCK[0], BLOCK[0], cin, 1).sum(axis=(1, 3))
        return np.repeat(_keep_largest(norms, 1 - sparsity), BLOCK[0], axis=0)
    return _keep_largest(np.abs(w), 1 - sparsity)


def _build(arch: str):
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    if arch == "mlp":
        return keras.Sequential([keras.Input((256,)), layers.Dense(1024, activation="relu"),
                                 layers.Dense(1024, activation="relu"), layers.Dense(10)])
    return keras.Sequential([keras.Input((8, 8, 16)), layers.Conv2D(128, 3, padding="same", activation="relu"),
                             layers.Conv2D(128, 3, padding="same", activation="relu"),
                             layers.GlobalAveragePooling2D(), layers.Dense(10)])


def _prune(model, how: str) -> dict:
    """Masks every kernel in place; returns {(out, in) shape: block-pruned?} of the pruned matrices."""
    pruned = {}
    for layer in model.layers:
        if not hasattr(layer, "kernel"):
            continue
        k = layer.kernel.numpy()
        w = k.reshape(-1, k.shape[-1]).T  # (out, in); a conv kernel (kh, kw, cin, cout) in (kh, kw, cin) order
        mask = prune_mask(w, how, PRUNINGS[how])
        layer.kernel.assign((w * mask).T.reshape(k.shape))
        pruned[w.shape] = how == "block" and w.shape[0] % BLOCK[0] == 0
    return pruned


def _sample(shape, seed=3, batch=3) -> np.ndarray:
    return np.random.default_rng(seed).random((batch,) + tuple(shape), np.float32)


@pytest.fixture(scope="module")
def pruned_files(tmp_path_factory):
    """{(arch, how): (float32 path, qdq path, {(out, in): block-pruned?})}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    out = tmp_path_factory.mktemp("sparse")
    files = {}
    for arch in ARCHS:
        for how in PRUNINGS:
            model = _build(arch)
            pruned = _prune(model, how)
            calib = _sample(model.input_shape[1:], seed=1, batch=8)
            model(calib)
            fp32 = str(out / f"{arch}_{how}.onnx")
            model.export(fp32, format="onnx", verbose=False)
            name = onnx.load(fp32).graph.input[0].name

            class Reader(CalibrationDataReader):
                def __init__(self):
                    self._it = iter([{name: calib[i : i + 1]} for i in range(len(calib))])

                def get_next(self):
                    return next(self._it, None)

            qdq = str(out / f"{arch}_{how}_qdq.onnx")
            quantize_static(fp32, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
            files[(arch, how)] = (fp32, qdq, pruned)
    return files


def _interpreter(path, sparse=None) -> Interpreter:
    with open(path, "rb") as f:
        data = f.read()
    return Interpreter(read_model(data, path, os.path.dirname(path)), path, sparse=sparse)


def _session(model_or_path, level=None):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if level is not None:
        so.graph_optimization_level = level
    what = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(what, so, providers=["CPUExecutionProvider"])


def _input_shape(it: Interpreter):
    return tuple(d if isinstance(d, int) else 1 for d in it.inputs[0].shape[1:])


CASES = [pytest.param(a, h, id=f"{a}-{h}") for a in ARCHS for h in PRUNINGS]


@pytest.mark.parametrize("arch, how", CASES)
def test_float_plans_match_onnxruntime(pruned_files, arch, how):
    fp32, _, pruned = pruned_files[(arch, how)]
    it = _interpreter(fp32, sparse=True)
    assert it.probe_error is None
    planned = {wp.plan.shape: wp for wp in it.weight_plans}
    assert set(planned) == set(pruned), "every pruned MatMul / Conv weight gets a plan"
    for shape, wp in planned.items():
        assert wp.op_type in ("MatMul", "Conv", "Gemm")
        assert wp.plan.density <= 1 - PRUNINGS[how] + 1e-3
        if pruned[shape] and shape[0] * shape[1] >= SURELY_SPARSE_SIZE:
            assert wp.plan.structure == "block 16x1" and wp.plan.kind in SPARSE_KINDS, wp
    x = _sample(_input_shape(it))
    got = it.invoke([x])[0]
    ref = _session(fp32).run(None, {it.inputs[0].name: x})[0]
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert relative_error(got, ref) <= FLOAT_RTOL


@pytest.mark.parametrize("arch, how", CASES)
def test_qdq_plans_match_onnxruntime_unfused(pruned_files, arch, how):
    _, qdq, pruned = pruned_files[(arch, how)]
    it = _interpreter(qdq, sparse=True)
    planned = {wp.plan.shape: wp for wp in it.weight_plans}
    assert set(planned) == set(pruned), "folded DequantizeLinear weights keep their zeros and get a plan"
    for shape, wp in planned.items():
        if pruned[shape] and shape[0] * shape[1] >= SURELY_SPARSE_SIZE:
            assert wp.plan.structure == "block 16x1" and wp.plan.kind in SPARSE_KINDS, wp
    x = _sample(_input_shape(it))
    env = it.invoke_all([x])
    model = onnx.load(qdq)
    quantized = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantized
    model.graph.output.extend(helper.make_tensor_value_info(q, TensorProto.INT8, None) for q in quantized)
    ref = _session(model, ort.GraphOptimizationLevel.ORT_DISABLE_ALL).run(None, {it.inputs[0].name: x})
    for name, r in zip(quantized, ref[1:]):
        diff = np.abs(env[name].astype(np.int32) - r.astype(np.int32))
        assert env[name].dtype == r.dtype
        assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.01 * diff.size, name
    out = env[it.outputs[0].name]
    assert relative_error(out, ref[0]) <= 0.05


@pytest.mark.parametrize("arch", ARCHS)
def test_sparse_switch_off(pruned_files, arch, monkeypatch):
    """EDGEWISE_SPARSE=0: no float weight is planned, the pure kernels run, results stay correct."""
    fp32, qdq, _ = pruned_files[(arch, "block")]
    monkeypatch.setenv("EDGEWISE_SPARSE", "0")
    it = _interpreter(fp32)
    assert not it.sparse and it.weight_plans == []
    x = _sample(_input_shape(it))
    ref = _session(fp32).run(None, {it.inputs[0].name: x})[0]
    assert relative_error(it.invoke([x])[0], ref) <= FLOAT_RTOL
    monkeypatch.setenv("EDGEWISE_SPARSE", "1")
    assert _interpreter(fp32).sparse and _interpreter(fp32, sparse=False).weight_plans == []


# -- integer ops with constant weights, built by hand ------------------------------------------------


def _int_weights(rng, shape2d, dtype) -> np.ndarray:
    """Random (out, in) weights; int8 ones in [-64, 63]: onnxruntime's AVX2 u8 x s8 kernels add
    pairs of products in saturating int16 (VPMADDUBSW), exact only for 7-bit weights (the reason
    for quantize_static's reduce_range), and the oracle must be exact."""
    lo, hi = (-64, 64) if dtype == np.int8 else (0, 256)
    return rng.integers(lo, hi, shape2d).astype(dtype)


def _block_sparse_int(rng, shape2d, dtype, zero, sparsity=0.95) -> np.ndarray:
    """(out, in) integers in 16x1 blocks, the rest equal to `zero` (the weights' zero point)."""
    w = _int_weights(rng, shape2d, dtype)
    return np.where(prune_mask(w.astype(np.float64) - zero, "block", sparsity), w, zero).astype(dtype)


def _int_model(op: str, w: np.ndarray, rng, x_shape, y_scale: float):
    """A one-node model computing `op` on a uint8 graph input x with the constant weight w."""
    conv = op.endswith("Conv") or op == "ConvInteger"
    M = w.shape[0] if conv else w.shape[1]
    zero = 128 if w.dtype == np.uint8 else 0
    # onnxruntime's ConvInteger takes only a per-tensor weight zero point; the others per channel.
    w_zp = np.array(zero, w.dtype) if op == "ConvInteger" else np.full((M,), zero, w.dtype)
    values = {"x_zp": np.array(7, np.uint8), "w": w, "w_zp": w_zp}
    if op.startswith("QLinear"):
        values.update(x_scale=np.array(0.02, np.float32), w_scale=(rng.random(M) * 0.01 + 0.001).astype(np.float32),
                      y_scale=np.array(y_scale, np.float32), y_zp=np.array(100, np.uint8))
        names = ["x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp"]
        if op == "QLinearConv":
            values["B"] = rng.integers(-2000, 2000, M).astype(np.int32)
            names.append("B")
        out_type = TensorProto.UINT8
    else:
        names = ["w", "x_zp", "w_zp"]
        out_type = TensorProto.INT32
    inits = [numpy_helper.from_array(values[n], n) for n in names]
    node = helper.make_node(op, ["x"] + names, ["y"], **({"pads": [1, 1, 1, 1]} if conv else {}))
    g = helper.make_graph([node], op, [helper.make_tensor_value_info("x", TensorProto.UINT8, list(x_shape))],
                          [helper.make_tensor_value_info("y", out_type, None)], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


INT_CASES = [
    # op, weight shape (out, in[, kh, kw]) in ONNX layout, weight dtype, input shape, surely sparse when pruned
    ("QLinearMatMul", (1024, 1024), np.int8, (1, 1024), True),
    ("MatMulInteger", (512, 256), np.uint8, (4, 512), False),
    ("QLinearConv", (128, 128, 3, 3), np.int8, (1, 128, 8, 8), True),
    ("ConvInteger", (32, 16, 3, 3), np.uint8, (2, 16, 6, 6), False),
]


@pytest.mark.parametrize("pruned", [True, False], ids=["block95", "dense"])
@pytest.mark.parametrize("op, w_shape, w_dtype, x_shape, surely", INT_CASES, ids=[c[0] for c in INT_CASES])
def test_integer_plans_equal_onnxruntime(tmp_path, op, w_shape, w_dtype, x_shape, surely, pruned):
    rng = np.random.default_rng(5)
    zero = 128 if w_dtype == np.uint8 else 0
    conv = len(w_shape) == 4
    w2d = (w_shape[0], int(np.prod(w_shape[1:]))) if conv else (w_shape[1], w_shape[0])  # (out, in)
    if pruned:
        w = _block_sparse_int(rng, w2d, w_dtype, zero)
    else:
        w = _int_weights(rng, w2d, w_dtype)
    w = w.reshape(w_shape) if conv else np.ascontiguousarray(w.T)  # MatMul's B is (in, out)
    path = str(tmp_path / f"{op}.onnx")
    model = _int_model(op, w, rng, x_shape, 0.5 if pruned else 4.0)
    onnx.save(model, path)
    x = rng.integers(0, 256, x_shape).astype(np.uint8)
    ref = _session(path).run(None, {"x": x})[0]
    for sparse in (True, False):
        it = _interpreter(path, sparse=sparse)
        (wp,) = it.weight_plans
        assert wp.op_type == op and wp.plan.shape == w2d
        if not sparse or not pruned:
            assert wp.plan.kind == "dense"
        elif surely:
            assert wp.plan.kind in SPARSE_KINDS and wp.plan.structure == "block 16x1"
        got = it.invoke([x])[0]
        assert got.dtype == ref.dtype and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref, err_msg=f"{op} sparse={sparse} plan={wp.plan.kind}")

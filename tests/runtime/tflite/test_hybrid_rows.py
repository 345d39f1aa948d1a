"""Dynamic-range ("hybrid") kernels: the row quantization against a scalar restatement of
Neon{A,}SymmetricQuantizeFloats, and FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D against LiteRT's
builtin kernels bit for bit. The rows cover ties (x * inv exactly .5, in the 8-lane vector part and
in the scalar tail), the 8-lane loop's +-(0.5 - 2^-25), clamped extremes, all-zero rows, rows of
1..40 and 2048 values and whole images, one row (Python-float parameters) and many (vectorized),
asymmetric_quantize_inputs on and off, and the GEMMs that read the raw q."""
from __future__ import annotations

import math

import numpy as np
import pytest

from edgewise.runtime.tflite import Interpreter, read_model, schema
from edgewise.runtime.tflite.flatbuf import Buffer
from edgewise.runtime.tflite.ops import hybrid
from edgewise.runtime.tflite.ops.common import weights_gemm_dtype

from .conftest import _keras

F32 = np.float32


def _round_c(v: float) -> float:
    """C's round(): half away from zero (exact: the fraction is taken exactly)."""
    t = math.trunc(v)
    return t + math.copysign(1.0, v) if abs(v - t) >= 0.5 else float(t)


def _lane_round(p: np.ndarray) -> np.ndarray:
    """The 8-lane loop's RoundToNearest as NEON_2_SSE runs it (x + copysign(0.5, x) in float32,
    truncated), the scalar tail's round()."""
    vec = (len(p) // 8) * 8
    return np.array([np.trunc(v + np.copysign(F32(0.5), v)) if i < vec else _round_c(float(v))
                     for i, v in enumerate(p)], np.float64)


def reference_asymmetric(row: np.ndarray):
    """NeonAsymmetricQuantizeFloats for one row, scalar by scalar: (q - offset, scaling factor)."""
    rmin, rmax = min(F32(0), row.min()), max(F32(0), row.max())
    if rmin == rmax:
        return np.zeros(len(row)), None
    scale = float(F32(rmax - rmin)) / 255.0
    a, b = float(rmin) / scale, float(rmax) / scale
    zp = -128.0 - a if 128.0 + abs(a) < 127.0 + abs(b) else 127.0 - b
    offset = -128 if zp <= -128 else 127 if zp >= 127 else int(_round_c(zp))
    inv = F32(1) / F32(scale)
    q = np.clip(_lane_round(row * inv) + offset, -128, 127)
    return q - offset, F32(scale)


def reference_symmetric(row: np.ndarray):
    """NeonSymmetricQuantizeFloats for one row: (q, scaling factor)."""
    rng = max(abs(row.min()), abs(row.max()))
    if rng == 0:
        return np.zeros(len(row)), F32(1)
    return np.clip(_lane_round(row * (F32(127) / rng)), -127, 127), rng / F32(127)


def _row(kind: str, rng, k: int) -> np.ndarray:
    x = (rng.standard_normal(k) * 10.0 ** rng.integers(-3, 3)).astype(np.float32)
    if kind == "positive":
        return np.abs(x)
    if kind == "negative":
        return -np.abs(x)
    if kind == "zero":
        return np.zeros_like(x)
    if kind == "near_half":  # range 255 (asymmetric scale 1): +-(0.5 - 2^-25) in both loops
        x = np.zeros(k, np.float32)
        x[rng.integers(0, k, 3)] = np.float32(0.5) - np.float32(2.0 ** -25)
        x[rng.integers(0, k)] = 255.0
        return x if rng.integers(0, 2) else -x
    if kind == "clip_quirk":  # scale 1, offset -128 (127 negated): -0.49999997 rounds to -1, q clamps
        x = np.zeros(k, np.float32)
        x[0] = -(np.float32(0.5) - np.float32(2.0 ** -25))
        x[-1] = 254.5 if k > 1 else x[0]
        return x if rng.integers(0, 2) else -x
    if kind == "ties":  # range 255 (asymmetric scale 1) or 127 (symmetric inv 1): halves are ties
        x = rng.integers(-254, 0, k) + 0.5 * rng.integers(0, 2, k)
        x[rng.integers(0, k)] = -255.0 if rng.integers(0, 2) else -127.0
        x = x * (1 if rng.integers(0, 2) else -1)
        return x.astype(np.float32)
    return x


KINDS = ["mixed", "positive", "negative", "zero", "ties", "near_half", "clip_quirk"]


@pytest.mark.parametrize("fn, ref", [(hybrid.asymmetric_rows, reference_asymmetric),
                                     (hybrid.symmetric_rows, reference_symmetric)])
@pytest.mark.parametrize("n_rows", [1, 2, 7])
def test_rows_match_the_scalar_restatement(fn, ref, n_rows):
    rng = np.random.default_rng(11 + n_rows)
    for _ in range(150):
        k = int(rng.integers(1, 41))
        x = np.stack([_row(KINDS[rng.integers(0, len(KINDS))], rng, k) for _ in range(n_rows)])
        q, sf, off = fn(x)
        assert q.dtype == sf.dtype == off.dtype == np.float32
        assert q.shape == x.shape and sf.shape == off.shape == (n_rows, 1)
        raw = q + off  # the int8 values LiteRT's dot products read
        assert raw.min() >= -128 and raw.max() <= 127 and np.array_equal(raw, np.round(raw))
        for r in range(n_rows):
            want_q, want_sf = ref(x[r])
            np.testing.assert_array_equal(q[r], want_q, err_msg=f"row {x[r]!r}")
            if want_sf is not None:  # an all-zero row's scale multiplies only zeros
                assert sf[r, 0] == want_sf


def test_rows_dequantize_to_the_input_within_one_step():
    x = np.array([[-1.0, 0.0, 0.5, 3.0, 2.25, -0.3]], np.float32)
    for fn in (hybrid.asymmetric_rows, hybrid.symmetric_rows):
        q, sf, _ = fn(x)  # q - offset: the row's values in units of sf
        assert np.abs(q * sf[0] - x).max() <= sf[0]


# ---- against LiteRT: one hybrid FULLY_CONNECTED per row length ----

# one hybrid FULLY_CONNECTED per row length (2048: large rows, and a GEMM exact in float32 only on
# the raw q, see fully_connected._hybrid), and hybrid convolutions whose rows are whole images
ROW_LENGTHS = (1, 2, 3, 5, 7, 8, 9, 16, 20, 2048)
IMAGES = {"conv1x1": (2, 2, 2048), "conv3x3": (4, 4, 8), "depthwise": (4, 4, 128)}


@pytest.fixture(scope="module")
def hybrid_model() -> bytes:
    keras = _keras()
    import tensorflow as tf

    L = keras.layers
    keras.utils.set_random_seed(5)
    inputs = [keras.Input((k,)) for k in ROW_LENGTHS] + [keras.Input(s) for s in IMAGES.values()]
    # >= 1024 weights, so that dynamic-range quantization makes them int8
    outputs = [L.Dense(-(-1024 // k) + 3, bias_initializer="glorot_uniform")(x)
               for k, x in zip(ROW_LENGTHS, inputs)]
    conv1x1, conv3x3, depthwise = inputs[len(ROW_LENGTHS):]
    outputs += [L.Conv2D(4, 1, bias_initializer="glorot_uniform")(conv1x1),
                L.Conv2D(16, 3, padding="same", activation="relu", bias_initializer="glorot_uniform")(conv3x3),
                L.DepthwiseConv2D(3, padding="same", bias_initializer="glorot_uniform")(depthwise)]
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    return conv.convert()


def _with_asymmetric_inputs(data: bytes, asymmetric: bool) -> bytes:
    """Every FULLY_CONNECTED's asymmetric_quantize_inputs set (the converter writes it as true)."""
    sg = Buffer(data, "<patch>").root(b"TFL3").tables(2, "subgraph")[0]
    fid = next(f[1] for f in schema.OPTION_FIELDS["FullyConnectedOptions"] if f[0] == "asymmetric_quantize_inputs")
    out = bytearray(data)
    n = 0
    for op in sg.tables(3, "operator"):
        if schema.BUILTIN_OPTIONS[op.scalar(3, "u8", 0)] == "FullyConnectedOptions":
            pos = op.table(4, "FullyConnectedOptions").field_position(fid)
            assert pos, "the converter no longer writes asymmetric_quantize_inputs"
            out[pos] = int(asymmetric)
            n += 1
    assert n == len(ROW_LENGTHS)
    return bytes(out)


def _feeds(rng, shapes, n_rows: int):
    """One row (a batch element) of each kind in turn, or one random kind for a single row."""
    feeds = []
    for shape in shapes:
        size = int(np.prod(shape))
        kinds = [KINDS[i % len(KINDS)] for i in range(n_rows)] if n_rows > 1 else [KINDS[rng.integers(0, len(KINDS))]]
        feeds.append(np.stack([_row(kind, rng, size).reshape(shape) for kind in kinds]))
    return feeds


def _litert_outputs(data: bytes, model, feeds):
    """LiteRT's builtin kernels on feeds given in the model's input order, outputs in its output order."""
    mod = pytest.importorskip("ai_edge_litert.interpreter")
    it = mod.Interpreter(model_content=data,
                         experimental_op_resolver_type=mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    for i, x in zip(model.main.inputs, feeds):
        it.resize_tensor_input(i, list(x.shape))
    it.allocate_tensors()
    for i, x in zip(model.main.inputs, feeds):
        it.set_tensor(i, x)
    it.invoke()
    return [it.get_tensor(i) for i in model.main.outputs]


@pytest.mark.parametrize("asymmetric", [True, False])
@pytest.mark.parametrize("n_rows", [1, 5, 16])
def test_hybrid_kernels_are_bit_identical_to_litert(hybrid_model, asymmetric, n_rows):
    data = _with_asymmetric_inputs(hybrid_model, asymmetric)
    model = read_model(data, "hybrid.tflite")
    sg = model.main
    ops = sg.operators
    assert sorted(op.op for op in ops) == sorted(["FULLY_CONNECTED"] * len(ROW_LENGTHS) + ["CONV_2D"] * 2
                                                 + ["DEPTHWISE_CONV_2D"])
    assert all(sg.tensors[op.inputs[1]].dtype == "int8" and sg.tensors[op.inputs[0]].dtype == "float32" for op in ops)
    assert all(bool(op.options.get("asymmetric_quantize_inputs")) == asymmetric
               for op in ops if op.op == "FULLY_CONNECTED")
    weights = [(op.op, sg.tensors[op.inputs[1]].data) for op in ops if op.op != "DEPTHWISE_CONV_2D"]
    raw = [name for name, w in weights if weights_gemm_dtype(w.reshape(len(w), -1), 255) is np.float64]
    assert sorted(raw) == ["CONV_2D", "FULLY_CONNECTED"], "the raw-q GEMMs are not exercised"
    it = Interpreter(model, "hybrid.tflite")
    rng = np.random.default_rng(n_rows + 10 * asymmetric)
    for _ in range(8 if n_rows == 1 else 3):
        feeds = _feeds(rng, [s.shape[1:] for s in it.inputs], n_rows)
        want = _litert_outputs(data, model, feeds)
        got = it.invoke(feeds)
        for spec, g, w in zip(it.outputs, got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            bad = np.flatnonzero(g.view(np.int32) != w.view(np.int32))
            assert bad.size == 0, f"{spec.name}: {bad.size} values differ, e.g. {g.flat[bad[0]]} vs {w.flat[bad[0]]}"

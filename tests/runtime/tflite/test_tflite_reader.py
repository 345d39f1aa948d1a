"""The FlatBuffer reader: what it exposes (checked against LiteRT's own view of the same file) and how
it rejects damaged files: always ModelFormatError naming the file and what is wrong, never an
IndexError/struct.error or an allocation the file does not back."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.errors import ModelFormatError
from edgewise.runtime.tflite import read_model

from .conftest import litert_run


def repack(data: bytes, edit) -> bytes:
    """Rewrite a model through the schema's object API (a second, independent FlatBuffer writer)."""
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    flatbuffers = pytest.importorskip("flatbuffers")
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    edit(m)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.mark.parametrize("kind", ["float32", "int8"])
def test_tensors_match_litert_details(converted, kind):
    mod = pytest.importorskip("ai_edge_litert.interpreter")
    data = converted.get("mixed", kind)
    model = read_model(data, "mixed.tflite")
    ref = mod.Interpreter(model_content=data)
    ref.allocate_tensors()
    tensors = model.main.tensors
    details = ref.get_tensor_details()
    assert len(details) == len(tensors)
    for d in details:
        t = tensors[d["index"]]
        assert t.name == d["name"]
        assert t.shape == tuple(int(s) for s in d["shape"])
        assert t.shape_signature == tuple(int(s) for s in d["shape_signature"])
        assert t.dtype == np.dtype(d["dtype"]).name
        qp = d["quantization_parameters"]
        if t.quantization is None:
            assert len(qp["scales"]) == 0
        else:
            np.testing.assert_array_equal(np.float32(t.quantization.scale), qp["scales"])
            np.testing.assert_array_equal(t.quantization.zero_point, qp["zero_points"])
            assert t.quantization.quantized_dimension == qp["quantized_dimension"]
        if t.is_constant:
            np.testing.assert_array_equal(t.dense_value(), ref.get_tensor(d["index"]))
    assert [op.op for op in model.main.operators][:2] == ["DEPTHWISE_CONV_2D", "CONV_2D"] or kind == "int8"
    assert model.main.inputs == tuple(d["index"] for d in ref.get_input_details())
    assert model.main.outputs == tuple(d["index"] for d in ref.get_output_details())


def test_operator_options_are_decoded(converted):
    model = read_model(converted.get("demo", "float32"), "demo.tflite")
    conv = model.main.operators[0]
    assert conv.op == "CONV_2D"
    assert conv.options["fused_activation_function"] == "RELU"
    assert conv.options["padding"] == "SAME"
    assert (conv.options["stride_h"], conv.options["stride_w"]) == (1, 1)
    softmax = model.main.operators[-1]
    assert softmax.op == "SOFTMAX" and softmax.options["beta"] == 1.0


SPARSE_VARIANTS = {
    # name: (quantize to int8, block size along the input dimension)
    "float32": (False, 4),  # FULLY_CONNECTED reads the sparse weights itself
    "int8": (True, 4),  # the converter inserts DENSIFY ops
    "int8_block16": (True, 16),  # LiteRT's sparse int8 FULLY_CONNECTED kernel (1x16 blocks)
}


@pytest.fixture(scope="session")
def sparse_models():
    """A pruned two-layer MLP (80% of weight blocks zero) converted with EXPERIMENTAL_SPARSITY."""
    pytest.importorskip("tensorflow")
    import keras
    import tensorflow as tf

    out = {}
    for variant, (int8, block) in SPARSE_VARIANTS.items():
        keras.utils.set_random_seed(11)
        m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(32)])
        rng = np.random.default_rng(5)
        for layer in m.layers:
            k, b = layer.get_weights()
            mask = (rng.random((k.shape[0] // block, k.shape[1])) > 0.8).repeat(block, axis=0)
            layer.set_weights([k * mask, rng.uniform(-0.3, 0.3, b.shape).astype(np.float32)])
        c = tf.lite.TFLiteConverter.from_keras_model(m)
        c.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        if int8:
            samples = [rng.standard_normal((1, 64)).astype(np.float32) for _ in range(16)]
            c.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
            c.representative_dataset = lambda: ([s] for s in samples)
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            c.inference_input_type = tf.int8
            c.inference_output_type = tf.int8
        out[variant] = (c.convert(), [layer.get_weights()[0] for layer in m.layers])
    return out


@pytest.mark.parametrize("variant", sorted(SPARSE_VARIANTS))
def test_sparse_tensors_densify_to_the_pruned_weights(sparse_models, variant):
    from .test_tflite_ops import compare_with_litert

    kind = "int8" if SPARSE_VARIANTS[variant][0] else "float32"
    data, kernels = sparse_models[variant]
    model = read_model(data, "sparse.tflite")
    sparse = [t for t in model.main.tensors if t.sparsity is not None]
    assert len(sparse) == 2
    for t, kernel in zip(sparse, kernels):
        dense = t.dense_value()
        assert dense.shape == t.shape == kernel.T.shape
        assert t.data.size < dense.size // 2  # really stored sparse
        nonzero = kernel.T != 0
        np.testing.assert_array_equal(dense != 0, nonzero & (dense != 0))  # zeros stay zeros
        if kind == "float32":
            np.testing.assert_array_equal(dense, kernel.T)
        else:
            assert np.count_nonzero(dense[~nonzero]) == 0
    ops = {op.op for op in model.main.operators}
    assert ("DENSIFY" in ops) == (variant == "int8")
    compare_with_litert(data, kind)


def test_densify_matches_litert_densify_op(sparse_models):
    data, _ = sparse_models["int8"]
    model = read_model(data, "sparse.tflite")
    densify = [op for op in model.main.operators if op.op == "DENSIFY"]
    assert densify
    _, every = litert_run(data, [np.zeros((1, 64), np.int8)], keep_all=True)
    for op in densify:
        src = model.main.tensors[op.inputs[0]]
        np.testing.assert_array_equal(src.dense_value(), every[op.outputs[0]])


# -- damaged files ---------------------------------------------------------------------------------

def _expect_error(data: bytes, *needles: str) -> ModelFormatError:
    with pytest.raises(ModelFormatError) as info:
        read_model(data, "bad.tflite")
    msg = str(info.value)
    assert msg.startswith("bad.tflite: ")
    for n in needles:
        assert n in msg, msg
    return info.value


def test_wrong_magic(converted):
    data = bytearray(converted.get("demo", "float32"))
    data[4:8] = b"XXXX"
    _expect_error(bytes(data), "identifier", "TFL3")


def test_every_truncation_is_a_format_error(converted):
    data = converted.get("demo", "int8")
    cuts = sorted(set(range(0, 64)) | set(range(64, len(data), max(1, len(data) // 300))))
    for n in cuts:
        with pytest.raises(ModelFormatError) as info:
            read_model(data[:n], "cut.tflite")
        assert str(info.value).startswith("cut.tflite: ")


def test_root_offset_out_of_range(converted):
    data = bytearray(converted.get("demo", "float32"))
    data[0:4] = (len(data) + 100).to_bytes(4, "little")
    _expect_error(bytes(data), "outside")


def test_random_corruption_never_crashes(converted):
    """Flip bytes anywhere: the reader either accepts the file or raises ModelFormatError."""
    data = converted.get("demo", "int8")
    rng = np.random.default_rng(0)
    rejected = 0
    for _ in range(300):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), size=int(rng.integers(1, 6))):
            buf[pos] = int(rng.integers(0, 256))
        try:
            read_model(bytes(buf), "fuzz.tflite")
        except ModelFormatError:
            rejected += 1
    assert rejected > 0


def test_huge_vector_length_is_rejected_without_allocating(converted):
    """A vector length near 2^32 must fail the bounds check, not allocate."""
    from edgewise.runtime.tflite.flatbuf import Buffer

    data = bytearray(converted.get("demo", "float32"))
    root = Buffer(bytes(data), "x").root(b"TFL3")
    p = root.field_position(2)  # the subgraphs vector
    vec = p + int.from_bytes(data[p:p + 4], "little")
    data[vec:vec + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    _expect_error(bytes(data), "subgraph", "outside")


def test_tensor_buffer_smaller_than_shape(converted):
    data = converted.get("demo", "float32")
    model = read_model(data, "demo.tflite")
    victim = next(t for t in model.main.tensors if t.is_constant and len(t.shape) == 4)

    def grow(m):
        t = m.subgraphs[0].tensors[victim.index]
        t.shape = [int(t.shape[0]) + 1] + [int(d) for d in t.shape[1:]]

    bad = repack(data, grow)
    _expect_error(bad, victim.name, "buffer", f"tensor {victim.index}")


def test_opcode_index_out_of_range(converted):
    data = converted.get("demo", "float32")

    def edit(m):
        m.subgraphs[0].operators[2].opcodeIndex = 99

    _expect_error(repack(data, edit), "operator 2", "opcode index 99")


def test_tensor_index_out_of_range(converted):
    data = converted.get("demo", "float32")

    def edit(m):
        op = m.subgraphs[0].operators[1]
        op.inputs = [1000] + [int(i) for i in op.inputs[1:]]

    _expect_error(repack(data, edit), "operator 1", "tensor index 1000")


def test_buffer_index_out_of_range(converted):
    data = converted.get("demo", "float32")

    def edit(m):
        m.subgraphs[0].tensors[3].buffer = 5000

    _expect_error(repack(data, edit), "tensor 3", "buffer index 5000")


def test_quantization_scale_count_must_match_channels(converted):
    data = converted.get("demo", "int8")
    model = read_model(data, "demo.tflite")
    w = next(t for t in model.main.tensors if t.quantization is not None and t.quantization.per_channel)

    def edit(m):
        q = m.subgraphs[0].tensors[w.index].quantization
        q.scale = list(q.scale)[:-1]
        q.zeroPoint = list(q.zeroPoint)[:-1]

    _expect_error(repack(data, edit), w.name, "per-channel scales")


def test_reading_is_lazy_and_fast(converted):
    """The weights are views into the file bytes, not copies."""
    data = converted.get("mixed", "int8")
    model = read_model(data, "m")
    consts = [t for t in model.main.tensors if t.is_constant]
    assert consts and all(t.data.base is not None and not t.data.flags.owndata for t in consts)


def test_invalid_utf8_name_is_rejected(converted):
    """LiteRT decodes names as UTF-8; a file whose names are not UTF-8 must stop at our reader."""
    data = converted.get("demo", "float32")

    def edit(m):
        m.subgraphs[0].tensors[2].name = b"\x80bad"

    _expect_error(repack(data, edit), "tensor 2", "UTF-8")


def test_non_finite_scale_is_rejected(converted):
    data = converted.get("demo", "int8")
    model = read_model(data, "demo.tflite")
    victim = model.main.inputs[0]

    def edit(m):
        m.subgraphs[0].tensors[victim].quantization.scale = [float("nan")]

    _expect_error(repack(data, edit), f"tensor {victim}", "scales must be finite")

"""Load-time validation of TFLite geometry and tensor sizes (runtime/tflite/validate.py, shapes.py).

Each bad model is a checked-in fixture with one int32 changed (patching.py), so the test states
exactly what is wrong; each must be refused by `load()` with a ModelFormatError naming the op and
the tensor, before any backend sees the file.
"""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime import ModelFormatError, load
from edgewise.runtime.tflite import Interpreter, read_model

from .patching import constant_offset, fixture, op_input, option_offset, set_i32, shape_offset

FLOAT = "tiny_cnn.float32.tflite"
INT8 = "tiny_cnn.int8.tflite"
# The fixtures' ops: 0 CONV_2D, 1 DEPTHWISE_CONV_2D, 2 MAX_POOL_2D, 3 RESHAPE, 4 FULLY_CONNECTED, 5 SOFTMAX.


def stride_mutant(name: str = FLOAT) -> bytes:
    """The fuzz finding of issue 6 (demo_cnn.float32.tflite, seed 1751): a CONV_2D stride of -2**31,
    for which the interpreter used to ask NumPy for 256 GiB."""
    data = fixture(name)
    return set_i32(data, option_offset(data, 0, "stride_h"), -2 ** 31)


def refused(data: bytes, *fragments: str, backend: str = "numpy", **kwargs) -> str:
    with pytest.raises(ModelFormatError) as err:
        load(data, backend=backend, **kwargs)
    msg = str(err.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in: {msg}"
    return msg


@pytest.mark.parametrize("name", [FLOAT, INT8])
def test_conv_stride_of_minus_2_pow_31_is_refused_at_load(name):
    msg = refused(stride_mutant(name), "operator 0 (CONV_2D)", "stride_h is -2147483648", "serving_default_image:0")
    assert "conv2d" in msg  # the output tensor's name


def test_the_interpreter_refuses_the_stride_mutant_when_built_directly():
    data = stride_mutant()
    with pytest.raises(ModelFormatError, match=r"operator 0 \(CONV_2D\).*stride_h"):
        Interpreter(read_model(data, "m.tflite"), "m.tflite")


@pytest.mark.host
def test_litert_never_sees_the_stride_mutant(monkeypatch):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    real, handed = litert.Interpreter, []

    def spy(*args, **kwargs):
        handed.append(kwargs.get("model_content"))
        return real(*args, **kwargs)

    monkeypatch.setattr(litert, "Interpreter", spy)
    model = load(fixture(FLOAT), backend="auto")
    assert model.backend.name == "litert" and len(handed) == 1, "the spy is not on load()'s path to LiteRT"
    handed.clear()
    for backend in ("auto", "litert", "litert-builtin"):
        refused(stride_mutant(), "CONV_2D", "stride_h is -2147483648", backend=backend)
    assert not handed


@pytest.mark.parametrize("op, field, value, expect", [
    (1, "stride_w", 0, "stride_w is 0"),
    (0, "stride_w", 1 << 20, "stride_w is 1048576"),
    (2, "filter_height", 0, "filter_height is 0"),
    (2, "filter_width", -7, "filter_width is -7"),
    (2, "stride_h", -2, "stride_h is -2"),
])
def test_window_options_out_of_range_are_refused(op, field, value, expect):
    data = fixture(FLOAT)
    names = {0: "CONV_2D", 1: "DEPTHWISE_CONV_2D", 2: "MAX_POOL_2D"}
    refused(set_i32(data, option_offset(data, op, field), value), f"operator {op} ({names[op]})", expect)


def test_a_pool_window_larger_than_its_valid_input_is_refused():
    data = fixture(FLOAT)
    refused(set_i32(data, option_offset(data, 2, "filter_height"), 40), "operator 2 (MAX_POOL_2D)",
            "a 40x2 window (dilation 1x1, padding VALID) does not fit input (1, 6, 6, 4)")


def test_conv_filter_that_does_not_fit_the_input_channels_is_refused():
    data = fixture(FLOAT)
    image = op_input(data, 0, 0)
    bad = set_i32(data, shape_offset(data, image, 3), 3)  # the image now declares 3 channels, the filter takes 2
    refused(bad, "operator 0 (CONV_2D)", "input 1", "filter (4, 3, 3, 2) does not fit an input of 3 channels")


def test_depthwise_filter_with_the_wrong_channel_count_is_refused():
    data = fixture(FLOAT)
    w = op_input(data, 1, 1)
    bad = set_i32(set_i32(data, shape_offset(data, w, 2), 4), shape_offset(data, w, 3), 3)  # (1,3,3,4) -> (1,3,4,3)
    refused(bad, "operator 1 (DEPTHWISE_CONV_2D)", "input 1", "has 3 channels, not a multiple of the input's 4")


def test_fully_connected_weights_that_do_not_divide_the_input_are_refused():
    data = fixture(FLOAT)
    w = op_input(data, 4, 1)
    bad = set_i32(set_i32(data, shape_offset(data, w, 0), 4), shape_offset(data, w, 1), 27)  # (3,36) -> (4,27)
    refused(bad, "operator 4 (FULLY_CONNECTED)", "input 0", "not a whole number of rows of depth 27")


def test_reshape_to_a_shape_of_another_size_is_refused():
    data = fixture(FLOAT)
    shape = op_input(data, 3, 1)
    assert read_model(data, "m").main.tensors[shape].data.tolist() == [1, 36]
    bad = set_i32(data, constant_offset(data, shape) + 4, 35)
    refused(bad, "operator 3 (RESHAPE)", "input 1", "new shape [1, 35] holds 35 values, the input (1, 3, 3, 4) has 36")


def test_a_declared_tensor_over_the_ceiling_is_refused():
    data = fixture(FLOAT)
    image = op_input(data, 0, 0)
    bad = set_i32(set_i32(data, shape_offset(data, image, 1), 40000), shape_offset(data, image, 2), 40000)
    refused(bad, "tensor 0 ('serving_default_image:0')", "float32[1, 40000, 40000, 2]", "11.92 GiB",
            "over the ceiling of 1 GiB")


def test_max_tensor_bytes_bounds_every_tensor_and_scratch_buffer(monkeypatch):
    data = fixture(FLOAT)
    # The largest buffer: 1x6x6 output pixels x (3*3*2) taps = 648 float32 im2col values, 2592 bytes.
    refused(data, "operator 0 (CONV_2D)", "im2col matrix", "2.531 KiB", "ceiling of 2.441 KiB", max_tensor_bytes=2500)
    load(data, backend="numpy", max_tensor_bytes=2592)
    monkeypatch.setenv("EDGEWISE_MAX_TENSOR_BYTES", "2500")
    refused(data, "CONV_2D", "im2col matrix")
    monkeypatch.setenv("EDGEWISE_MAX_TENSOR_BYTES", "lots")
    with pytest.raises(ValueError, match="EDGEWISE_MAX_TENSOR_BYTES='lots' is not a whole number"):
        load(data, backend="numpy")


@pytest.mark.parametrize("name", [FLOAT, INT8])
def test_the_fixtures_themselves_load_and_run(name):
    model = load(fixture(name), backend="numpy")
    x = np.random.default_rng(0).standard_normal((1, 12, 12, 2)).astype(np.float32)
    y = model.run(x, quantize=True)[0]
    assert y.shape == (1, 3) and abs(float(y.sum()) - 1) < 0.02


@pytest.mark.host
@pytest.mark.parametrize("kind", ["float32", "int8"])
def test_inferred_shapes_are_the_shapes_the_interpreter_computes(converted, kind):
    """On every op-family model (tflite/conftest.py), at batch 16: a shape the validator infers is the
    shape the kernels produce, so the size checks bound the real allocations; most are known."""
    from .conftest import MODELS, random_feeds

    from .test_tflite_ops import FLOAT_ONLY

    known = total = 0
    for name in sorted(set(MODELS) - (FLOAT_ONLY if kind == "int8" else set())):
        model = read_model(converted.get(name, kind), name)
        it = Interpreter(model, name)
        feeds = random_feeds(it.inputs, 16, 0)
        inferred = it.bounds.infer([f.shape for f in feeds])
        got = it.invoke_all(feeds)
        for op in model.main.operators:
            for i in op.outputs:
                t = model.main.tensors[i]
                total += 1
                if inferred.get(i) is not None:
                    known += 1
                    assert inferred[i] == got[t.name].shape, f"{name}: op #{op.index} {op.op} -> {t.name!r}"
    assert known > 0.9 * total, (known, total)


def test_every_op_with_a_kernel_has_a_shape_rule():
    """Validation covers every op the NumPy interpreter runs (an op without a rule would fall back to
    its declared shapes, unchecked against its inputs)."""
    from edgewise.runtime.tflite.ops import KERNELS
    from edgewise.runtime.tflite.validate import RULES

    assert sorted(set(KERNELS) - set(RULES)) == []


@pytest.mark.host
@pytest.mark.parametrize("backend", ["numpy", "litert"])
def test_a_larger_batch_is_checked_against_the_ceiling_before_running(converted, backend):
    """A dynamic-batch model (the converter's SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE chain included)
    within the ceiling at batch 1 is refused at batch 4096, before the engine allocates, on either engine."""
    from edgewise.runtime import InputError

    pytest.importorskip("ai_edge_litert")
    data = converted.get("demo", "float32")
    model = load(data, backend=backend, max_tensor_bytes=1 << 20)
    assert model.inputs[0].shape[0] is None
    model.run(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(InputError, match=r"with these input shapes, operator \d+ \(CONV_2D\).*ceiling of 1 MiB"):
        model.run(np.zeros((4096, 8, 8, 1), np.float32))

"""PAD / PADV2 into CONV_2D and DEPTHWISE_CONV_2D (passes/fuse_pad.py): graph level and exactness
as in test_passes.py, and on a converted Keras model."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.tflite.interpreter import Interpreter
from edgewise.runtime.tflite.passes import fuse_pad

from .graphs import Builder, op_names
from .test_passes import _same_as_file_graph


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

"""Ops the NumPy interpreter cannot run are refused at construction, by name, before anything runs."""
from __future__ import annotations

import pytest

from edgewise.runtime.errors import UnsupportedOpError
from edgewise.runtime.tflite import Interpreter, read_model, schema
from edgewise.runtime.tflite.ops import KERNELS

from .test_tflite_reader import repack

UNKNOWN = [name for name in schema.BUILTIN_OPERATORS
           if name not in KERNELS and name not in ("CUSTOM", "PLACEHOLDER_FOR_GREATER_OP_CODES")]


def test_registry_only_names_real_ops():
    assert set(KERNELS) <= set(schema.BUILTIN_OPERATORS)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "MEAN", "DENSIFY"} <= set(KERNELS)


def _with_first_op_replaced(data: bytes, code: int) -> bytes:
    def edit(m):
        idx = m.subgraphs[0].operators[0].opcodeIndex
        m.operatorCodes[idx].builtinCode = code
        m.operatorCodes[idx].deprecatedBuiltinCode = min(code, 127)

    return repack(data, edit)


def test_every_unknown_builtin_op_is_rejected_by_name(converted):
    data = converted.get("demo", "float32")
    assert UNKNOWN
    for name in UNKNOWN:
        bad = _with_first_op_replaced(data, schema.BUILTIN_OPERATORS.index(name))
        model = read_model(bad, "m.tflite")  # still a valid file
        with pytest.raises(UnsupportedOpError) as info:
            Interpreter(model, "m.tflite")
        err = info.value
        assert err.op == name
        assert err.node.startswith("#0 ")
        assert f"op {name}" in str(err) and "m.tflite" in str(err) and "no NumPy kernel" in str(err)


def test_custom_op_is_rejected_with_its_code(converted):
    data = converted.get("demo", "float32")

    def edit(m):
        idx = m.subgraphs[0].operators[0].opcodeIndex
        m.operatorCodes[idx].builtinCode = schema.BUILTIN_OPERATORS.index("CUSTOM")
        m.operatorCodes[idx].deprecatedBuiltinCode = 32
        m.operatorCodes[idx].customCode = b"MyFancyOp"

    model = read_model(repack(data, edit), "m.tflite")
    assert model.main.operators[0].display_name == "MyFancyOp"
    with pytest.raises(UnsupportedOpError, match="MyFancyOp"):
        Interpreter(model, "m.tflite")


def test_unsupported_variant_is_rejected_before_running(converted):
    """CONV_2D with a fused TANH: the op is known, the variant is not."""
    data = converted.get("demo", "float32")

    def edit(m):
        m.subgraphs[0].operators[0].builtinOptions.fusedActivationFunction = 4  # TANH

    model = read_model(repack(data, edit), "m.tflite")
    assert model.main.operators[0].options["fused_activation_function"] == "TANH"
    with pytest.raises(UnsupportedOpError, match="fused activation TANH"):
        Interpreter(model, "m.tflite")


def test_unsupported_dtype_of_a_known_op_is_refused(converted):
    """An int16 input to a float32 CONV_2D: the op is known, the dtype is not, and it says so."""
    data = converted.get("demo", "float32")

    def edit(m):
        m.subgraphs[0].tensors[int(m.subgraphs[0].inputs[0])].type = 7  # INT16

    model = read_model(repack(data, edit), "m.tflite")
    with pytest.raises(UnsupportedOpError, match="op CONV_2D .*input dtype int16"):
        Interpreter(model, "m.tflite")


def test_inconsistent_shapes_surface_as_format_errors(converted):
    """A RESHAPE whose target cannot hold its input is the file's fault: ModelFormatError naming the op,
    not a NumPy ValueError from inside a kernel."""
    import numpy as np

    from edgewise.runtime.errors import ModelFormatError

    data = converted.get("demo", "float32")
    model = read_model(data, "demo.tflite")
    reshape = next(op for op in model.main.operators if op.op == "RESHAPE")

    def edit(m):
        op = m.subgraphs[0].operators[reshape.index]
        op.builtinOptions = None
        op.builtinOptionsType = 0
        op.inputs = [int(op.inputs[0])]  # no shape input: the declared output shape, with 7 columns
        out = m.subgraphs[0].tensors[int(op.outputs[0])]
        out.shape = [1, 7]
        out.shapeSignature = [-1, 7]

    bad = read_model(repack(data, edit), "bad.tflite")
    it = Interpreter(bad, "bad.tflite")
    with pytest.raises(ModelFormatError, match=rf"operator {reshape.index} \(RESHAPE\) failed"):
        it.invoke([np.zeros((1, 8, 8, 1), np.float32)])


def test_tensor_type_without_numpy_dtype_is_refused(converted):
    """INT4 weights (packed two per byte) have no NumPy dtype: refused by name, not misread."""
    data = converted.get("demo", "float32")
    model = read_model(data, "demo.tflite")
    w = model.main.tensors[model.main.operators[0].inputs[1]]

    def edit(m):
        t = m.subgraphs[0].tensors[w.index]
        t.type = 17  # INT4: the reader keeps the raw bytes, the interpreter must not guess

    bad = read_model(repack(data, edit), "m.tflite")
    assert bad.main.tensors[w.index].dtype == "int4"
    with pytest.raises(UnsupportedOpError, match="INT4"):
        Interpreter(bad, "m.tflite")

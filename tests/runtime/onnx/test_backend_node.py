"""ONNX's own conformance suite (onnx.backend.test node tests) run on the NumPy interpreter.

The adapter serialises each ModelProto to bytes and goes through edgewise's reader and
interpreter only: never onnx.reference, never onnxruntime. Expected outputs come with each test
case of the onnx package. Included: every test named after a supported op, and every other node
test made only of registered ops; excluded tests are listed below, each with its reason.
"""
from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
import onnx.backend.base  # noqa: E402
import onnx.backend.test  # noqa: E402

from onnx.backend.test.loader import load_model_tests  # noqa: E402

from edgewise.runtime.onnx import Interpreter, read_model, registry  # noqa: E402

pytestmark = pytest.mark.host


class _Rep(onnx.backend.base.BackendRep):
    def __init__(self, interpreter: Interpreter):
        self._it = interpreter

    def run(self, inputs, **kwargs):
        return tuple(self._it.invoke(list(inputs)))


class NumpyBackend(onnx.backend.base.Backend):
    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        data = model.SerializeToString()
        return _Rep(Interpreter(read_model(data, "<node test>", None), "<node test>"))

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


backend_test = onnx.backend.test.BackendTest(NumpyBackend, __name__)

# One include per supported op (the node test names start with the op's snake_case name).
SUPPORTED = [
    "abs", "add", "sub", "mul", "div", "pow", "sqrt", "neg", "exp", "log", "reciprocal", "floor", "ceil",
    "sum", "max", "min", "mean", "erf",
    "relu", "leakyrelu", "elu", "sigmoid", "hardsigmoid", "hardswish", "tanh", "gelu", "prelu", "softplus", "clip",
    "softmax", "logsoftmax",
    "matmul", "gemm", "conv", "convtranspose", "maxpool", "averagepool", "globalaveragepool", "globalmaxpool",
    "batchnorm", "layer_normalization", "lrn",
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_sum_square", "reduce_l1",
    "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp", "argmax", "argmin",
    "identity", "shape", "size", "reshape", "flatten", "transpose", "squeeze", "unsqueeze", "concat", "split",
    "slice", "gather", "expand", "tile", "pad", "constant_pad", "edge_pad", "reflect_pad", "wrap_pad", "resize",
    "constant", "constantofshape", "cast", "dropout", "equal", "less", "less_equal", "greater", "greater_equal",
    "not", "and", "or", "xor", "where", "castlike", "round", "selu", "celu", "thresholdedrelu", "softsign", "mish",
    "shrink", "sign", "sin", "cos", "isnan", "isinf", "instancenorm", "gather_elements", "depthtospace",
    "spacetodepth", "range", "tril", "triu", "cumsum", "upsample",
    "quantizelinear", "dequantizelinear", "dynamicquantizelinear", "qlinearconv", "qlinearmatmul",
    "matmulinteger", "convinteger",
]
for op in SUPPORTED:
    backend_test.include(rf"^test_{op}(_.*)?_cpu$")


def _all_ops_registered(case) -> bool:
    opsets = {o.domain: o.version for o in case.model.opset_import}
    return all(
        registry.lookup(n.domain, n.op_type, opsets.get(n.domain, 0)) is not None for n in case.model.graph.node
    )


# Also every other node test made only of supported ops: composite and "_expanded" (function body) tests.
for _case in load_model_tests(kind="node"):
    if _case.model is not None and _all_ops_registered(_case):
        backend_test.include(rf"^{_case.name}_cpu$")

# Tests whose name starts like a supported op but exercise something else (reason given).
EXCLUDED = {
    r"^test_split_to_sequence": "SplitToSequence: sequence types are not supported",
    r"^test_training_dropout": "Dropout with training_mode=True is random; the runtime does inference only",
    r"^test_cast(like)?_.*(FLOAT8|FLOAT4|INT4|UINT4|INT2|UINT2|FLOAT6|BFLOAT16|E8M0|float8|float4|int4|uint4|int2|uint2|e8m0)":
        "Cast to/from types NumPy lacks (float8, float4, float6, e8m0, bfloat16, int4, int2) is not supported",
    r"^test_cast_.*STRING|_string": "string tensors are not supported by the kernels",
    r"^test_identity_(opt|sequence)": "optional and sequence values are not supported, only tensors",
    r"^test_batchnorm_.*training_mode": "BatchNormalization training_mode=1: the runtime does inference only",
    r"^test_(de)?quantizelinear_.*(e4m3|e5m2|float4|int4|uint4|int2|uint2|e2m1|e8m0|float6|e2m3|e3m2|float8)":
        "quantization to float8/float4/float6/int4/int2 types is not supported",
    r"^test_resize_.*antialias": "Resize antialias=1 is not supported",
    r"_bfloat16": "bfloat16 has no NumPy dtype; the kernels compute in NumPy types only",
    r"^test_range_.*_expanded": "Range's function body uses Loop; control flow (If/Loop/Scan) is not supported",
}
for pattern, reason in EXCLUDED.items():
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)

"""Every ONNX op the NumPy backend runs: one table, the opset versions each kernel implements.

An entry covers the opset imports [first, last]: `first` is the `since_version` of the oldest
schema the kernel implements, `last` the opset before the next schema change that alters semantics.
Changes that only add element types (most of opsets 22-28) keep the same kernel; element types the
kernels cannot compute in NumPy (float8, int4, ...) raise UnsupportedOpError when the node runs.
tests/runtime/onnx/test_interpreter.py checks every entry against onnx.defs: each schema version in
the range has its attributes as keyword arguments with the spec's defaults, its inputs by name.

An entry may also name a `prepare` (ops/planned.py): for a node with inputs known at load, it
returns a function the interpreter runs instead of the kernel (a sparse or exact weight plan).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from .ops import activation as act
from .ops import conv, elementwise as ew, logical, matmul, norm, planned, pool, qlinear, quant, reduce, resize
from .ops import shape, softmax, tensor

MAX_OPSET = 28  # the newest ai.onnx opset whose schemas this table was checked against (onnx 1.23)


@dataclass(frozen=True)
class OpEntry:
    op_type: str
    kernel: Callable
    first: int
    last: int = MAX_OPSET
    domain: str = ""
    # The kernel's `num_outputs` defaults to the node's output count: Split's equal chunks before
    # opset 18, MaxPool's optional Indices (computed only when asked for).
    pass_num_outputs: bool = False
    # prepare(ctx, attrs) -> Optional[planned.Prepared], called once per node at load (see ops/planned.py).
    prepare: Optional[Callable] = None


E = OpEntry
ENTRIES: Tuple[OpEntry, ...] = (
    # element-wise math
    E("Add", ew.Add, 7), E("Sub", ew.Sub, 7), E("Mul", ew.Mul, 7), E("Div", ew.Div, 7),
    E("Pow", ew.Pow, 7), E("Sqrt", ew.Sqrt, 6), E("Abs", ew.Abs, 6), E("Neg", ew.Neg, 6), E("Exp", ew.Exp, 6),
    E("Log", ew.Log, 6), E("Reciprocal", ew.Reciprocal, 6), E("Floor", ew.Floor, 6), E("Ceil", ew.Ceil, 6),
    E("Round", ew.Round, 11), E("Sign", ew.Sign, 9), E("Sin", ew.Sin, 7), E("Cos", ew.Cos, 7),
    E("IsNaN", ew.IsNaN, 9), E("IsInf", ew.IsInf, 10),
    E("Sum", ew.Sum, 8), E("Max", ew.Max, 8), E("Min", ew.Min, 8), E("Mean", ew.Mean, 8), E("Erf", ew.Erf, 9),
    # activations
    E("Relu", act.Relu, 6), E("LeakyRelu", act.LeakyRelu, 6), E("Elu", act.Elu, 6), E("Sigmoid", act.Sigmoid, 6),
    E("HardSigmoid", act.HardSigmoid, 6), E("HardSwish", act.HardSwish, 14), E("Tanh", act.Tanh, 6),
    E("Gelu", act.Gelu, 20), E("PRelu", act.PRelu, 7), E("Softplus", act.Softplus, 1),
    E("Selu", act.Selu, 6), E("Celu", act.Celu, 12), E("ThresholdedRelu", act.ThresholdedRelu, 10),
    E("Softsign", act.Softsign, 1), E("Mish", act.Mish, 18), E("Shrink", act.Shrink, 9),
    E("Clip", act.Clip_6, 6, 10), E("Clip", act.Clip, 11),
    E("Softmax", softmax.Softmax_1, 1, 12), E("Softmax", softmax.Softmax, 13),
    E("LogSoftmax", softmax.LogSoftmax_1, 1, 12), E("LogSoftmax", softmax.LogSoftmax, 13),
    # comparisons and logic
    E("Equal", logical.Equal, 7), E("Less", logical.Less, 7), E("LessOrEqual", logical.LessOrEqual, 12),
    E("Greater", logical.Greater, 7), E("GreaterOrEqual", logical.GreaterOrEqual, 12), E("Not", logical.Not, 1),
    E("And", logical.And, 7), E("Or", logical.Or, 7), E("Xor", logical.Xor, 7), E("Where", logical.Where, 9),
    E("CastLike", logical.CastLike, 15),
    # linear algebra, convolution, pooling, normalisation
    E("MatMul", matmul.MatMul, 1, prepare=planned.prepare_matmul),
    E("Gemm", matmul.Gemm, 7, prepare=planned.prepare_gemm),
    E("Conv", conv.Conv, 1, prepare=planned.prepare_conv), E("ConvTranspose", conv.ConvTranspose, 1),
    E("MaxPool", pool.MaxPool, 8, pass_num_outputs=True), E("AveragePool", pool.AveragePool, 7),
    E("GlobalAveragePool", pool.GlobalAveragePool, 1), E("GlobalMaxPool", pool.GlobalMaxPool, 1),
    E("BatchNormalization", norm.BatchNormalization_9, 9, 13),
    E("BatchNormalization", norm.BatchNormalization, 14), E("LayerNormalization", norm.LayerNormalization, 17),
    E("LRN", norm.LRN, 1), E("InstanceNormalization", norm.InstanceNormalization, 6),
    # reductions
    E("ReduceSum", reduce.ReduceSum_1, 1, 12), E("ReduceSum", reduce.ReduceSum, 13),
    E("ReduceMean", reduce.ReduceMean_1, 1, 17), E("ReduceMean", reduce.ReduceMean, 18),
    E("ReduceMax", reduce.ReduceMax_1, 1, 17), E("ReduceMax", reduce.ReduceMax, 18),
    E("ReduceMin", reduce.ReduceMin_1, 1, 17), E("ReduceMin", reduce.ReduceMin, 18),
    E("ReduceProd", reduce.ReduceProd_1, 1, 17), E("ReduceProd", reduce.ReduceProd, 18),
    E("ReduceSumSquare", reduce.ReduceSumSquare_1, 1, 17), E("ReduceSumSquare", reduce.ReduceSumSquare, 18),
    E("ReduceL1", reduce.ReduceL1_1, 1, 17), E("ReduceL1", reduce.ReduceL1, 18),
    E("ReduceL2", reduce.ReduceL2_1, 1, 17), E("ReduceL2", reduce.ReduceL2, 18),
    E("ReduceLogSum", reduce.ReduceLogSum_1, 1, 17), E("ReduceLogSum", reduce.ReduceLogSum, 18),
    E("ReduceLogSumExp", reduce.ReduceLogSumExp_1, 1, 17), E("ReduceLogSumExp", reduce.ReduceLogSumExp, 18),
    E("ArgMax", reduce.ArgMax, 1), E("ArgMin", reduce.ArgMin, 1),
    # data movement
    E("Identity", shape.Identity, 1), E("Shape", shape.Shape, 1), E("Size", shape.Size, 1),
    E("Reshape", shape.Reshape, 5), E("Flatten", shape.Flatten, 9), E("Transpose", shape.Transpose, 1),
    E("Squeeze", shape.Squeeze_1, 1, 12), E("Squeeze", shape.Squeeze, 13),
    E("Unsqueeze", shape.Unsqueeze_1, 1, 12), E("Unsqueeze", shape.Unsqueeze, 13),
    E("Concat", shape.Concat, 4),
    E("Split", shape.Split_2, 2, 12, pass_num_outputs=True), E("Split", shape.Split, 13, pass_num_outputs=True),
    E("Slice", shape.Slice_1, 1, 9), E("Slice", shape.Slice, 10),
    E("Gather", shape.Gather, 1), E("GatherElements", shape.GatherElements, 11), E("Expand", shape.Expand, 8),
    E("Tile", shape.Tile, 6), E("DepthToSpace", shape.DepthToSpace, 11), E("SpaceToDepth", shape.SpaceToDepth, 1),
    E("Range", shape.Range, 11), E("Trilu", shape.Trilu, 14), E("CumSum", shape.CumSum, 11),
    E("Pad", tensor.Pad_2, 2, 10), E("Pad", tensor.Pad, 11),
    E("Resize", resize.Resize_10, 10, 10), E("Resize", resize.Resize, 11), E("Upsample", resize.Upsample, 9, 10),
    # tensor creation and conversion
    E("Constant", tensor.Constant, 1), E("ConstantOfShape", tensor.ConstantOfShape, 9),
    E("Cast", tensor.Cast, 6), E("Dropout", tensor.Dropout_7, 7, 11), E("Dropout", tensor.Dropout, 12),
    # quantization
    E("QuantizeLinear", quant.QuantizeLinear_10, 10, 12), E("QuantizeLinear", quant.QuantizeLinear, 13),
    E("DequantizeLinear", quant.DequantizeLinear_10, 10, 12), E("DequantizeLinear", quant.DequantizeLinear, 13),
    E("DynamicQuantizeLinear", quant.DynamicQuantizeLinear, 11),
    E("QLinearConv", qlinear.QLinearConv, 10, prepare=planned.prepare_qlinear_conv),
    E("QLinearMatMul", qlinear.QLinearMatMul, 10, prepare=planned.prepare_qlinear_matmul),
    E("MatMulInteger", qlinear.MatMulInteger, 10, prepare=planned.prepare_matmul_integer),
    E("ConvInteger", qlinear.ConvInteger, 10, prepare=planned.prepare_conv_integer),
)

_BY_OP: Dict[Tuple[str, str], List[OpEntry]] = {}
for _e in ENTRIES:
    _BY_OP.setdefault((_e.domain, _e.op_type), []).append(_e)


def lookup(domain: str, op_type: str, opset: int) -> Optional[OpEntry]:
    """The kernel for `op_type` in a model importing `domain` at version `opset`, or None."""
    for e in _BY_OP.get((domain, op_type), ()):
        if e.first <= opset <= e.last:
            return e
    return None


def versions(domain: str, op_type: str) -> List[Tuple[int, int]]:
    return [(e.first, e.last) for e in _BY_OP.get((domain, op_type), ())]

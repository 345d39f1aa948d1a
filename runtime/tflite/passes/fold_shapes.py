"""Shape folding: for one set of input shapes, SHAPE of a tensor whose shape those input shapes
fix becomes a constant (then `fold_constants` evaluates the shape arithmetic behind it).

Converters emit SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE chains wherever a Keras model has a
dynamic batch; on a plan made for fixed input shapes they are constants. The pass must not fold a
shape that depends on tensor *values* (WHERE, a RESHAPE to a computed shape, ...), so it tracks two
properties forward through the graph:

- static shape: the input shapes alone determine it. True for graph inputs and constants; an op's
  outputs have it when all its inputs do, and the inputs the op reads as values for its output
  shape (RESHAPE's new shape, PAD's widths, MEAN's axes, ...) are static values;
- static value: the value itself is fixed: constants, SHAPE of a static-shaped tensor, and any op
  on static values only.

Ops whose output shape depends on their input shapes alone (elementwise, convolutions, pooling,
activations) list all inputs as `SHAPE_ONLY`; for the ops in `SHAPE_FROM_VALUES` only the listed
positions are read for their shape. An op in neither table (WHERE, NON_MAX_SUPPRESSION, custom
ops) needs static values on every input: nothing after it is folded unless it is.
"""
from __future__ import annotations

from typing import Dict, Mapping, Tuple

import numpy as np

from ..graph import Graph

ALL = None  # every input position
SHAPE_ONLY = frozenset((
    "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MINIMUM", "MAXIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD",
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "BATCH_MATMUL",
    "SOFTMAX", "LOG_SOFTMAX", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "TANH", "LOGISTIC",
    "HARD_SWISH", "GELU", "ELU", "EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SQUARE", "SIN", "COS", "FLOOR",
    "CEIL", "ROUND", "QUANTIZE", "DEQUANTIZE", "SHAPE", "GATHER", "GATHER_ND", "CONCATENATION", "PACK", "UNPACK",
    "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR",
    "LOGICAL_NOT", "SELECT", "SELECT_V2", "CAST", "SQUEEZE", "DENSIFY", "ZEROS_LIKE", "ONES_LIKE",
    "L2_NORMALIZATION",
    "EDGEWISE_LAYER_NORM", "EDGEWISE_INT8_TABLE",  # the fused ops of passes/: shape of input 0
    "EDGEWISE_GATHER",  # passes/fuse_gather_wrap.py: GATHER's shape
))
# op -> input positions whose values do not affect the output shape (the others must be static values)
SHAPE_FROM_VALUES: Mapping[str, Tuple[int, ...]] = {
    "RESHAPE": (0,), "TILE": (0,), "PAD": (0,), "PADV2": (0, 2), "MIRROR_PAD": (0,), "SLICE": (0,),
    "STRIDED_SLICE": (0,), "BROADCAST_TO": (0,), "RESIZE_BILINEAR": (0,), "RESIZE_NEAREST_NEIGHBOR": (0,),
    "MEAN": (0,), "SUM": (0,), "REDUCE_MAX": (0,), "REDUCE_MIN": (0,), "REDUCE_PROD": (0,), "EXPAND_DIMS": (0,),
    "TRANSPOSE": (0,), "ARG_MAX": (0,), "ARG_MIN": (0,), "SPACE_TO_BATCH_ND": (0,), "BATCH_TO_SPACE_ND": (0,),
    "TRANSPOSE_CONV": (1, 2, 3), "SPLIT": (1,), "SPLIT_V": (0,),
    "EDGEWISE_BATCH_MATMUL": (0, 1),  # passes/fuse_transpose_matmul.py: its perms are constants
}


def static_tensors(graph: Graph) -> Tuple[set, set]:
    """(tensors of static shape, tensors of static value) for plans made per input shape."""
    shape = set(graph.inputs) | set(graph.constants)
    value = set(graph.constants)
    for op in graph.operators:
        ins = [i for i in op.inputs if i >= 0]
        if all(i in value for i in ins) or (op.op == "SHAPE" and all(i in shape for i in ins)):
            value.update(op.outputs)
            shape.update(op.outputs)
            continue
        free = ALL if op.op in SHAPE_ONLY else SHAPE_FROM_VALUES.get(op.op, ())
        if all(i in shape and (free is ALL or k in free or i in value)
               for k, i in enumerate(op.inputs) if i >= 0):
            shape.update(op.outputs)
    return shape, value


def fold_shapes(graph: Graph, shapes: Mapping[int, Tuple[int, ...]]) -> Graph:
    """shapes: tensor index -> shape, as a run with the plan's input shapes saw them."""
    static_shape, _ = static_tensors(graph)
    constants: Dict[int, np.ndarray] = dict(graph.constants)
    kept = []
    for op in graph.operators:
        x = op.inputs[0] if op.inputs else -1
        if op.op == "SHAPE" and x >= 0 and x in static_shape and x in shapes and x not in constants:
            out = op.outputs[0]
            constants[out] = np.array(shapes[x], dtype=graph.tensors[out].dtype)
            continue
        kept.append(op)
    if len(kept) == len(graph.operators):
        return graph
    return graph.with_operators(kept, constants)

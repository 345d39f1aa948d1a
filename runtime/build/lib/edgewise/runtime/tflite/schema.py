"""The parts of the TFLite schema (tensorflow/lite/schema/schema.fbs) the reader needs, as data.

Field ids are the schema's declaration order; enums are listed by value. Options tables the runtime
reads are described as (field name, field id, kind, default); options of ops it does not run are not
decoded (`Operator.options` is then empty), which is still a valid model.
"""
from __future__ import annotations

import numpy as np

# TensorType, by value. None: a type NumPy has no dtype for (kept by name, never given a numpy view).
TENSOR_TYPES = (
    ("FLOAT32", "float32"), ("FLOAT16", "float16"), ("INT32", "int32"), ("UINT8", "uint8"), ("INT64", "int64"),
    ("STRING", None), ("BOOL", "bool"), ("INT16", "int16"), ("COMPLEX64", "complex64"), ("INT8", "int8"),
    ("FLOAT64", "float64"), ("COMPLEX128", "complex128"), ("UINT64", "uint64"), ("RESOURCE", None),
    ("VARIANT", None), ("UINT32", "uint32"), ("UINT16", "uint16"), ("INT4", None), ("BFLOAT16", None),
    ("INT2", None), ("UINT4", None), ("FLOAT8_E4M3FN", None), ("FLOAT8_E5M2", None),
)

# BuiltinOperator, by value.
BUILTIN_OPERATORS = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
    "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
    "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB",
    "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
    "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT",
    "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT",
    "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL",
    "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
    "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL",
    "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT", "STABLEHLO_LOGISTIC", "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM", "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM", "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE", "STABLEHLO_ABS", "STABLEHLO_AND", "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL", "STABLEHLO_FLOOR", "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE",
    "STABLEHLO_OR", "STABLEHLO_POWER", "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE", "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE", "STABLEHLO_PAD", "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW", "STABLEHLO_SORT", "STABLEHLO_WHILE", "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE", "DILATE", "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW", "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT", "STABLEHLO_CBRT", "STABLEHLO_CASE",
)

# The BuiltinOptions union's member tables, by type value.
BUILTIN_OPTIONS = (
    "NONE", "Conv2DOptions", "DepthwiseConv2DOptions", "ConcatEmbeddingsOptions", "LSHProjectionOptions",
    "Pool2DOptions", "SVDFOptions", "RNNOptions", "FullyConnectedOptions", "SoftmaxOptions", "ConcatenationOptions",
    "AddOptions", "L2NormOptions", "LocalResponseNormalizationOptions", "LSTMOptions", "ResizeBilinearOptions",
    "CallOptions", "ReshapeOptions", "SkipGramOptions", "SpaceToDepthOptions", "EmbeddingLookupSparseOptions",
    "MulOptions", "PadOptions", "GatherOptions", "BatchToSpaceNDOptions", "SpaceToBatchNDOptions",
    "TransposeOptions", "ReducerOptions", "SubOptions", "DivOptions", "SqueezeOptions", "SequenceRNNOptions",
    "StridedSliceOptions", "ExpOptions", "TopKV2Options", "SplitOptions", "LogSoftmaxOptions", "CastOptions",
    "DequantizeOptions", "MaximumMinimumOptions", "ArgMaxOptions", "LessOptions", "NegOptions", "PadV2Options",
    "GreaterOptions", "GreaterEqualOptions", "LessEqualOptions", "SelectOptions", "SliceOptions",
    "TransposeConvOptions", "SparseToDenseOptions", "TileOptions", "ExpandDimsOptions", "EqualOptions",
    "NotEqualOptions", "ShapeOptions", "PowOptions", "ArgMinOptions", "FakeQuantOptions", "PackOptions",
    "LogicalOrOptions", "OneHotOptions", "LogicalAndOptions", "LogicalNotOptions", "UnpackOptions",
    "FloorDivOptions", "SquareOptions", "ZerosLikeOptions", "FillOptions", "BidirectionalSequenceLSTMOptions",
    "BidirectionalSequenceRNNOptions", "UnidirectionalSequenceLSTMOptions", "FloorModOptions", "RangeOptions",
    "ResizeNearestNeighborOptions", "LeakyReluOptions", "SquaredDifferenceOptions", "MirrorPadOptions", "AbsOptions",
    "SplitVOptions", "UniqueOptions", "ReverseV2Options", "AddNOptions", "GatherNdOptions", "CosOptions",
    "WhereOptions", "RankOptions", "ReverseSequenceOptions", "MatrixDiagOptions", "QuantizeOptions",
    "MatrixSetDiagOptions", "HardSwishOptions", "IfOptions", "WhileOptions", "DepthToSpaceOptions",
    "NonMaxSuppressionV4Options", "NonMaxSuppressionV5Options", "ScatterNdOptions", "SelectV2Options",
    "DensifyOptions", "SegmentSumOptions", "BatchMatMulOptions", "CumsumOptions", "CallOnceOptions",
    "BroadcastToOptions", "Rfft2dOptions", "Conv3DOptions", "HashtableOptions", "HashtableFindOptions",
    "HashtableImportOptions", "HashtableSizeOptions", "VarHandleOptions", "ReadVariableOptions",
    "AssignVariableOptions", "RandomOptions", "BucketizeOptions", "GeluOptions", "DynamicUpdateSliceOptions",
    "UnsortedSegmentProdOptions", "UnsortedSegmentMaxOptions", "UnsortedSegmentMinOptions",
    "UnsortedSegmentSumOptions", "ATan2Options", "SignOptions", "BitcastOptions", "BitwiseXorOptions",
    "RightShiftOptions",
)

ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
PADDINGS = ("SAME", "VALID")

_CONV = (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
         ("fused_activation_function", 3, "i8", 0), ("dilation_w_factor", 4, "i32", 1),
         ("dilation_h_factor", 5, "i32", 1))
_ACT0 = (("fused_activation_function", 0, "i8", 0),)

# Options tables decoded into Operator.options: name -> ((field, id, kind, default), ...).
# kind "i32[]" is an int32 vector, read as a tuple.
OPTION_FIELDS = {
    "Conv2DOptions": _CONV,
    "DepthwiseConv2DOptions": (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                               ("depth_multiplier", 3, "i32", 0), ("fused_activation_function", 4, "i8", 0),
                               ("dilation_w_factor", 5, "i32", 1), ("dilation_h_factor", 6, "i32", 1)),
    "FullyConnectedOptions": (("fused_activation_function", 0, "i8", 0), ("weights_format", 1, "i8", 0),
                              ("keep_num_dims", 2, "bool", False), ("asymmetric_quantize_inputs", 3, "bool", False)),
    "Pool2DOptions": (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                      ("filter_width", 3, "i32", 0), ("filter_height", 4, "i32", 0),
                      ("fused_activation_function", 5, "i8", 0)),
    "ReshapeOptions": (("new_shape", 0, "i32[]", None),),
    "SoftmaxOptions": (("beta", 0, "f32", 0.0),),
    "ConcatenationOptions": (("axis", 0, "i32", 0), ("fused_activation_function", 1, "i8", 0)),
    "AddOptions": _ACT0 + (("pot_scale_int16", 1, "bool", True),),
    "SubOptions": _ACT0 + (("pot_scale_int16", 1, "bool", True),),
    "MulOptions": _ACT0,
    "DivOptions": _ACT0,
    "StridedSliceOptions": (("begin_mask", 0, "i32", 0), ("end_mask", 1, "i32", 0), ("ellipsis_mask", 2, "i32", 0),
                            ("new_axis_mask", 3, "i32", 0), ("shrink_axis_mask", 4, "i32", 0),
                            ("offset", 5, "bool", False)),
    "PackOptions": (("values_count", 0, "i32", 0), ("axis", 1, "i32", 0)),
    "UnpackOptions": (("num", 0, "i32", 0), ("axis", 1, "i32", 0)),
    "ReducerOptions": (("keep_dims", 0, "bool", False),),
    "LeakyReluOptions": (("alpha", 0, "f32", 0.0),),
    "GeluOptions": (("approximate", 0, "bool", False),),
    "SqueezeOptions": (("squeeze_dims", 0, "i32[]", None),),
    "TransposeConvOptions": (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                             ("fused_activation_function", 3, "i8", 0)),
    "SplitOptions": (("num_splits", 0, "i32", 0),),
    "SplitVOptions": (("num_splits", 0, "i32", 0),),
    "GatherOptions": (("axis", 0, "i32", 0), ("batch_dims", 1, "i32", 0)),
    "BatchMatMulOptions": (("adj_x", 0, "bool", False), ("adj_y", 1, "bool", False),
                           ("asymmetric_quantize_inputs", 2, "bool", False)),
    "ResizeBilinearOptions": (("align_corners", 2, "bool", False), ("half_pixel_centers", 3, "bool", False)),
    "ResizeNearestNeighborOptions": (("align_corners", 0, "bool", False), ("half_pixel_centers", 1, "bool", False)),
    "ShapeOptions": (("out_type", 0, "i8", 0),),
    "CastOptions": (("in_data_type", 0, "i8", 0), ("out_data_type", 1, "i8", 0)),
    "ArgMaxOptions": (("output_type", 0, "i8", 0),),
    "ArgMinOptions": (("output_type", 0, "i8", 0),),
    "MirrorPadOptions": (("mode", 0, "i8", 0),),
}

# Names for enum-valued options, so Operator.options reads "RELU6" rather than 3.
OPTION_ENUMS = {"fused_activation_function": ACTIVATIONS, "padding": PADDINGS}

# SparseIndexVector union members -> element dtype of their `values` vector (field 0).
SPARSE_INDEX_VECTORS = (None, np.int32, np.uint16, np.uint8)
DIMENSION_TYPES = ("DENSE", "SPARSE_CSR")

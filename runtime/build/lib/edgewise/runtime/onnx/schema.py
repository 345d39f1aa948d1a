"""The subset of onnx.proto (ONNX IR v11, onnx 1.23) the reader decodes, as data.

Each message maps field number -> (name, kind, repeated). Kinds: "i64"/"i32"/"u64"/"enum"
(varint), "f32" (fixed32), "f64" (fixed64), "str" (UTF-8), "bytes", "msg" (a nested message,
decoded by the caller). Fields not listed are skipped, as protobuf does for unknown fields;
listed fields with the wrong wire type are rejected.
"""
from __future__ import annotations

MODEL = {
    1: ("ir_version", "i64", False),
    2: ("producer_name", "str", False),
    3: ("producer_version", "str", False),
    4: ("domain", "str", False),
    5: ("model_version", "i64", False),
    6: ("doc_string", "str", False),
    7: ("graph", "msg", False),
    8: ("opset_import", "msg", True),
    14: ("metadata_props", "msg", True),
    20: ("training_info", "msg", True),
    25: ("functions", "msg", True),
    26: ("configuration", "msg", True),
}
OPERATOR_SET_ID = {1: ("domain", "str", False), 2: ("version", "i64", False)}
STRING_STRING_ENTRY = {1: ("key", "str", False), 2: ("value", "str", False)}
FUNCTION = {1: ("name", "str", False), 10: ("domain", "str", False), 13: ("overload", "str", False)}
GRAPH = {
    1: ("node", "msg", True),
    2: ("name", "str", False),
    5: ("initializer", "msg", True),
    10: ("doc_string", "str", False),
    11: ("input", "msg", True),
    12: ("output", "msg", True),
    13: ("value_info", "msg", True),
    14: ("quantization_annotation", "msg", True),
    15: ("sparse_initializer", "msg", True),
    16: ("metadata_props", "msg", True),
}
NODE = {
    1: ("input", "str", True),
    2: ("output", "str", True),
    3: ("name", "str", False),
    4: ("op_type", "str", False),
    5: ("attribute", "msg", True),
    6: ("doc_string", "str", False),
    7: ("domain", "str", False),
    8: ("overload", "str", False),
    9: ("metadata_props", "msg", True),
    10: ("device_configurations", "msg", True),
}
ATTRIBUTE = {
    1: ("name", "str", False),
    2: ("f", "f32", False),
    3: ("i", "i64", False),
    4: ("s", "bytes", False),
    5: ("t", "msg", False),
    6: ("g", "msg", False),
    7: ("floats", "f32", True),
    8: ("ints", "i64", True),
    9: ("strings", "bytes", True),
    10: ("tensors", "msg", True),
    11: ("graphs", "msg", True),
    13: ("doc_string", "str", False),
    14: ("tp", "msg", False),
    15: ("type_protos", "msg", True),
    20: ("type", "enum", False),
    21: ("ref_attr_name", "str", False),
    22: ("sparse_tensor", "msg", False),
    23: ("sparse_tensors", "msg", True),
}
VALUE_INFO = {
    1: ("name", "str", False),
    2: ("type", "msg", False),
    3: ("doc_string", "str", False),
    4: ("metadata_props", "msg", True),
}
TYPE = {
    1: ("tensor_type", "msg", False),
    4: ("sequence_type", "msg", False),
    5: ("map_type", "msg", False),
    6: ("denotation", "str", False),
    7: ("opaque_type", "msg", False),
    8: ("sparse_tensor_type", "msg", False),
    9: ("optional_type", "msg", False),
}
TYPE_TENSOR = {1: ("elem_type", "i32", False), 2: ("shape", "msg", False)}
TYPE_ELEM = {1: ("elem_type", "msg", False)}  # TypeProto.Sequence and TypeProto.Optional
TYPE_MAP = {1: ("key_type", "i32", False), 2: ("value_type", "msg", False)}
TYPE_OPAQUE = {1: ("domain", "str", False), 2: ("name", "str", False)}
TENSOR_SHAPE = {1: ("dim", "msg", True)}
DIMENSION = {1: ("dim_value", "i64", False), 2: ("dim_param", "str", False), 3: ("denotation", "str", False)}
TENSOR = {
    1: ("dims", "i64", True),
    2: ("data_type", "i32", False),
    3: ("segment", "msg", False),
    4: ("float_data", "f32", True),
    5: ("int32_data", "i32", True),
    6: ("string_data", "bytes", True),
    7: ("int64_data", "i64", True),
    8: ("name", "str", False),
    9: ("raw_data", "bytes", False),
    10: ("double_data", "f64", True),
    11: ("uint64_data", "u64", True),
    12: ("doc_string", "str", False),
    13: ("external_data", "msg", True),
    14: ("data_location", "enum", False),
    16: ("metadata_props", "msg", True),
}
SPARSE_TENSOR = {1: ("values", "msg", False), 2: ("indices", "msg", False), 3: ("dims", "i64", True)}

# AttributeProto.AttributeType
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR, ATTR_GRAPH = 1, 2, 3, 4, 5
ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS, ATTR_TENSORS, ATTR_GRAPHS = 6, 7, 8, 9, 10
ATTR_SPARSE_TENSOR, ATTR_SPARSE_TENSORS, ATTR_TYPE_PROTO, ATTR_TYPE_PROTOS = 11, 12, 13, 14

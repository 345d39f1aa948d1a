"""Deterministic, surgical edits of a .tflite file: one int32 of an op's options, of a tensor's shape,
or of a constant, found through the runtime's own bounds-checked FlatBuffer tables. Tests use them
to make exactly the bad model they mean (a stride of -2**31, a filter that does not fit its input)
from the checked-in fixtures, with nothing else changed.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from edgewise.runtime.tflite import read_model, schema
from edgewise.runtime.tflite.flatbuf import Buffer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _subgraph(data: bytes):
    return Buffer(data, "<patch>").root(b"TFL3").tables(2, "subgraph")[0]


def option_offset(data: bytes, op_index: int, field: str) -> int:
    """File offset of option `field` (an int32 stored in the file) of operator `op_index`."""
    op = _subgraph(data).tables(3, "operator")[op_index]
    tname = schema.BUILTIN_OPTIONS[op.scalar(3, "u8", 0)]
    fid, kind = next((f[1], f[2]) for f in schema.OPTION_FIELDS[tname] if f[0] == field)
    pos = op.table(4, tname).field_position(fid)
    if not pos or kind != "i32":
        raise LookupError(f"operator {op_index}: option {field} is not an int32 stored in the file")
    return pos


def shape_offset(data: bytes, tensor_index: int, dim: int) -> int:
    """File offset of dimension `dim` of tensor `tensor_index`'s shape vector."""
    tensor = _subgraph(data).tables(0, "tensor")[tensor_index]
    start, n = tensor.span(0, 4, "shape")
    assert 0 <= dim < n
    return start + 4 * dim


def constant_offset(data: bytes, tensor_index: int) -> int:
    """File offset of the first element of constant tensor `tensor_index`."""
    t = read_model(data, "<patch>").main.tensors[tensor_index]
    base = np.frombuffer(data, np.uint8)
    return t.data.__array_interface__["data"][0] - base.__array_interface__["data"][0]


def set_i32(data: bytes, pos: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<i", out, pos, value)
    return bytes(out)


def op_input(data: bytes, op_index: int, slot: int) -> int:
    return read_model(data, "<patch>").main.operators[op_index].inputs[slot]

"""Say where a truncated ONNX file ends: "inside initializer #12 'conv1_w'".

A cut file fails at the outermost record (the graph claims more bytes than remain), which names
nothing useful. This walks down again from the top, leniently, following the record that runs
past the end of the file, and reads the `name` of the message it ends in if that field was
written before the cut (protobuf writes fields in number order, and `name` precedes raw_data).
"""
from __future__ import annotations

from typing import List, Optional

from . import schema
from .wire import FIXED32, FIXED64, LEN, VARINT, WireError, iter_fields, read_varint

# message table -> {field: (child table or None)} to follow when the cut lies inside that field
_CHILDREN = {
    id(schema.MODEL): {7: schema.GRAPH},
    id(schema.GRAPH): {1: schema.NODE, 5: schema.TENSOR, 11: schema.VALUE_INFO, 12: schema.VALUE_INFO,
                       13: schema.VALUE_INFO, 15: schema.SPARSE_TENSOR},
    id(schema.NODE): {5: schema.ATTRIBUTE},
    id(schema.ATTRIBUTE): {5: schema.TENSOR, 6: schema.GRAPH, 10: schema.TENSOR, 11: schema.GRAPH},
}
_NAME_FIELD = {id(schema.GRAPH): 2, id(schema.NODE): 3, id(schema.TENSOR): 8, id(schema.VALUE_INFO): 1,
               id(schema.ATTRIBUTE): 1}


def _lenient_name(buf, start: int, table) -> Optional[str]:
    field = _NAME_FIELD.get(id(table))
    if field is None:
        return None
    try:
        for f, wt, a, b in iter_fields(buf, start, len(buf)):
            if f == field and wt == LEN:
                return bytes(buf[a:b]).decode("utf-8", "replace")
    except WireError:
        pass
    return None


def _step(buf, pos: int):
    """One record's (field, wire type, payload start, payload end), the end possibly past the buffer."""
    key, p = read_varint(buf, pos, len(buf))
    f, wt = key >> 3, key & 7
    if wt == LEN:
        n, p = read_varint(buf, p, len(buf))
        return f, wt, p, p + n
    if wt == VARINT:
        _, p = read_varint(buf, p, len(buf))
        return f, wt, p, p
    if wt in (FIXED32, FIXED64):
        return f, wt, p, p + (4 if wt == FIXED32 else 8)
    raise WireError(f"wire type {wt}")


def locate(buf) -> str:
    """'inside graph 'main' > node #3 'conv1' > attribute #0 'value'', or '' if nothing can be said."""
    path: List[str] = []
    table, start = schema.MODEL, 0
    while True:
        counts: dict = {}
        cut = None
        pos = start
        while pos < len(buf):
            try:
                f, wt, a, b = _step(buf, pos)
            except WireError:
                break
            counts[f] = counts.get(f, 0) + 1
            if b > len(buf):
                if wt == LEN:
                    cut = (f, a, counts[f] - 1)
                break
            pos = b
        if cut is None:
            return " > ".join(path)
        f, a, index = cut
        spec = table.get(f)
        child = _CHILDREN.get(id(table), {}).get(f)
        label = spec[0] if spec else f"field {f}"
        if spec and spec[2]:
            label += f" #{index}"
        name = _lenient_name(buf, a, child) if child is not None else None
        if name:
            label += f" {name!r}"
        path.append(label)
        if child is None:
            return " > ".join(path)
        table, start = child, a

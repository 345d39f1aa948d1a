"""A bounds-checked FlatBuffers table reader, just enough for the TFLite schema.

FlatBuffers layout (https://flatbuffers.dev/internals/): a file starts with a uoffset (u32) to the root
table; a table starts with an soffset (i32) back to its vtable; the vtable is
`[u16 vtable_bytes, u16 table_bytes, u16 field_offset...]`, a field offset of 0 meaning "absent, use the
default". Offsets to sub-tables, vectors and strings are u32 relative to where they are stored; a vector
is a u32 length followed by its elements. Every read here is checked against the buffer length, so a
truncated or hostile file raises `ModelFormatError` naming what was being read instead of IndexError,
struct.error or an allocation of a size the file does not back.
"""
from __future__ import annotations

import struct
from typing import List, Optional, Tuple

import numpy as np

from ..errors import ModelFormatError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
SCALARS = {
    "bool": struct.Struct("<B"), "u8": struct.Struct("<B"), "i8": struct.Struct("<b"), "u16": _U16,
    "i16": struct.Struct("<h"), "u32": _U32, "i32": _I32, "f32": struct.Struct("<f"), "u64": struct.Struct("<Q"),
    "i64": struct.Struct("<q"), "f64": struct.Struct("<d"),
}


class Buffer:
    """The file's bytes plus the name to blame in errors."""

    def __init__(self, data: bytes, source: str):
        self.data = data
        self.size = len(data)
        self.source = source

    def fail(self, detail: str) -> ModelFormatError:
        return ModelFormatError(self.source, detail)

    def check(self, pos: int, nbytes: int, what: str) -> None:
        if pos < 0 or nbytes < 0 or pos + nbytes > self.size:
            raise self.fail(f"{what}: bytes [{pos}, {pos + nbytes}) lie outside the {self.size}-byte file")

    def u32(self, pos: int, what: str) -> int:
        self.check(pos, 4, what)
        return _U32.unpack_from(self.data, pos)[0]

    def root(self, identifier: bytes) -> "Table":
        if self.size < 8:
            raise self.fail(f"file is {self.size} bytes long, too short for a FlatBuffer")
        got = bytes(self.data[4:8])
        if got != identifier:
            raise self.fail(f"not a TFLite model: file identifier is {got!r}, expected {identifier!r}")
        return Table(self, self.u32(0, "root table offset"), "model")


class Table:
    """One table at byte `pos`; `what` names it in error messages (e.g. "subgraph 0, tensor 3")."""

    __slots__ = ("buf", "pos", "what", "_vt", "_vt_len")

    def __init__(self, buf: Buffer, pos: int, what: str):
        self.buf = buf
        self.pos = pos
        self.what = what
        buf.check(pos, 4, f"{what}: table header")
        vt = pos - _I32.unpack_from(buf.data, pos)[0]
        buf.check(vt, 4, f"{what}: vtable")
        vt_len = _U16.unpack_from(buf.data, vt)[0]
        if vt_len < 4 or vt_len % 2:
            raise buf.fail(f"{what}: vtable size {vt_len} is invalid")
        buf.check(vt, vt_len, f"{what}: vtable")
        tbl_len = _U16.unpack_from(buf.data, vt + 2)[0]
        buf.check(pos, tbl_len, f"{what}: table body")
        self._vt = vt
        self._vt_len = vt_len

    def field_position(self, field: int) -> int:
        """Absolute position of field `field` (schema id), or 0 when absent."""
        slot = 4 + 2 * field
        if slot + 2 > self._vt_len:
            return 0
        off = _U16.unpack_from(self.buf.data, self._vt + slot)[0]
        return self.pos + off if off else 0

    def has(self, field: int) -> bool:
        return self.field_position(field) != 0

    def scalar(self, field: int, kind: str, default=0):
        p = self.field_position(field)
        if not p:
            return default
        st = SCALARS[kind]
        self.buf.check(p, st.size, f"{self.what}: field {field}")
        v = st.unpack_from(self.buf.data, p)[0]
        return bool(v) if kind == "bool" else v

    def _target(self, field: int, what: str) -> int:
        p = self.field_position(field)
        if not p:
            return 0
        return p + self.buf.u32(p, f"{self.what}: {what} offset")

    def table(self, field: int, what: str) -> Optional["Table"]:
        t = self._target(field, what)
        return Table(self.buf, t, f"{self.what}, {what}") if t else None

    def span(self, field: int, elem_size: int, what: str) -> Tuple[int, int]:
        """(start, length) of a vector field, bounds-checked; (0, 0) when absent."""
        t = self._target(field, what)
        if not t:
            return 0, 0
        n = self.buf.u32(t, f"{self.what}: {what} length")
        self.buf.check(t + 4, n * elem_size, f"{self.what}: {what} ({n} elements of {elem_size} bytes)")
        return t + 4, n

    def vector_len(self, field: int, what: str) -> int:
        return self.span(field, 1, what)[1]

    def array(self, field: int, dtype, what: str) -> Optional[np.ndarray]:
        """A read-only NumPy view of a scalar vector (no copy), or None when absent."""
        dt = np.dtype(dtype).newbyteorder("<")
        start, n = self.span(field, dt.itemsize, what)
        if not start:
            return None
        return np.frombuffer(self.buf.data, dtype=dt, count=n, offset=start)

    def ints(self, field: int, what: str) -> Tuple[int, ...]:
        a = self.array(field, np.int32, what)
        return () if a is None else tuple(a.tolist())

    def string(self, field: int, what: str) -> Optional[str]:
        start, n = self.span(field, 1, what)
        if not start:
            return None
        try:
            return bytes(self.buf.data[start:start + n]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.buf.fail(f"{self.what}: {what} is not valid UTF-8 ({e.reason} at byte {e.start})") from None

    def tables(self, field: int, what: str) -> List["Table"]:
        start, n = self.span(field, 4, what)
        out = []
        for i in range(n):
            p = start + 4 * i
            out.append(Table(self.buf, p + _U32.unpack_from(self.buf.data, p)[0], f"{self.what}, {what} {i}"))
        return out

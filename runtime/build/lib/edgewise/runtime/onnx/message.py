"""Decode one protobuf message against a field table from `schema`, checking every wire type."""
from __future__ import annotations

import struct
from typing import Any, Dict

import numpy as np

from .wire import FIXED32, FIXED64, LEN, VARINT, WireError, iter_fields, to_signed64, unpack_varints

_WIRE = {"i64": VARINT, "i32": VARINT, "u64": VARINT, "enum": VARINT, "f32": FIXED32, "f64": FIXED64,
         "str": LEN, "bytes": LEN, "msg": LEN}
_WIRE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}
_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1


def _varint_value(kind: str, v: int, name: str) -> int:
    if kind == "u64":
        return v
    v = to_signed64(v)
    if kind in ("i32", "enum") and not _I32_MIN <= v <= _I32_MAX:
        raise WireError(f"field {name!r} holds {v}, outside int32")
    return v


def _packed(buf, kind: str, a: int, b: int, name: str) -> np.ndarray:
    n = b - a
    if kind in ("f32", "f64"):
        size = 4 if kind == "f32" else 8
        if n % size:
            raise WireError(f"packed field {name!r} is {n} bytes, not a multiple of {size}")
        dt = np.dtype("<f4" if size == 4 else "<f8")
        return np.frombuffer(buf, dt, n // size, a) if n else np.zeros(0, dt)
    u = unpack_varints(buf, a, b)
    if kind == "u64":
        return u
    s = u.view(np.int64)
    if kind in ("i32", "enum") and s.size and (s.min() < _I32_MIN or s.max() > _I32_MAX):
        raise WireError(f"packed field {name!r} holds values outside int32")
    return s


def _text(buf, a: int, b: int, name: str) -> str:
    try:
        return bytes(buf[a:b]).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"field {name!r} is not valid UTF-8") from None


def decode(buf, start: int, end: int, table: Dict[int, tuple]) -> Dict[str, Any]:
    """Fields of buf[start:end] by name. Scalars: last value wins (protobuf semantics).

    Repeated numbers come back as one NumPy array (packed and unpacked runs concatenated);
    repeated str/bytes/msg as lists; "bytes" and "msg" values as (start, end) spans into `buf`.
    """
    out: Dict[str, Any] = {}
    chunks: Dict[str, list] = {}
    for field, wt, a, b in iter_fields(buf, start, end):
        spec = table.get(field)
        if spec is None:
            continue
        name, kind, repeated = spec
        want = _WIRE[kind]
        if repeated and wt == LEN and want != LEN:
            chunks.setdefault(name, []).append(_packed(buf, kind, a, b, name))
            continue
        if wt != want:
            raise WireError(
                f"field {name!r} has wire type {_WIRE_NAMES.get(wt, wt)}, expected {_WIRE_NAMES[want]}"
            )
        if want == VARINT:
            value: Any = _varint_value(kind, a, name)
        elif kind == "f32":
            value = struct.unpack_from("<f", buf, a)[0]
        elif kind == "f64":
            value = struct.unpack_from("<d", buf, a)[0]
        elif kind == "str":
            value = _text(buf, a, b, name)
        else:
            value = (a, b)
        if not repeated:
            out[name] = value
        elif want == LEN:
            out.setdefault(name, []).append(value)
        else:
            chunks.setdefault(name, []).append(value)
    for name, parts in chunks.items():
        arrays = [p if isinstance(p, np.ndarray) else None for p in parts]
        if all(x is not None for x in arrays):
            out[name] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        else:
            kind = next(k for k in (s[1] for s in table.values() if s[0] == name))
            dt = {"f32": np.float32, "f64": np.float64, "u64": np.uint64}.get(kind, np.int64)
            out[name] = np.concatenate([np.atleast_1d(np.asarray(p, dt)) for p in parts])
    return out

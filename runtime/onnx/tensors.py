"""TensorProto -> LazyTensor: check sizes against dims now, decode into NumPy on first use.

Checks, so that no later allocation exceeds what the file holds: dims are non-negative; raw_data
holds exactly dims*element-size bytes; a typed field holds exactly the element count; external
data stays inside the model's folder and within the referenced file.
"""
from __future__ import annotations

import os
import stat
from typing import Optional

import numpy as np

from . import dtypes, schema
from .message import decode
from .model import LazyTensor
from .wire import WireError

_RAW_NATIVE = {
    "float32": "<f4", "uint8": "u1", "int8": "i1", "uint16": "<u2", "int16": "<i2", "int32": "<i4", "int64": "<i8",
    "bool": "u1", "float16": "<f2", "float64": "<f8", "uint32": "<u4", "uint64": "<u8", "complex64": "<c8",
    "complex128": "<c16",
}
_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")
MAX_ELEMENTS = 1 << 40


class TensorContext:
    """What decoding a tensor needs besides its bytes: the model's name and folder."""

    def __init__(self, source: str, base_dir: Optional[str]):
        self.source = source
        self.base_dir = base_dir


def read_tensor(buf, a: int, b: int, ctx: TensorContext, where: str) -> LazyTensor:
    try:
        d = decode(buf, a, b, schema.TENSOR)
    except WireError as e:
        raise WireError(f"{where}: {e}") from None
    name = d.get("name", "")
    label = f"tensor {name!r}" if name else where
    try:
        return _build(buf, d, name, ctx)
    except WireError as e:
        raise WireError(f"{label}: {e}") from None


def _build(buf, d: dict, name: str, ctx: TensorContext) -> LazyTensor:
    code = int(d.get("data_type", 0))
    t = dtypes.elem_type(code)
    if t is None:
        raise WireError(f"unknown data_type {code}")
    dims_arr = d.get("dims", np.zeros(0, np.int64))
    dims = tuple(int(x) for x in dims_arr)
    if any(x < 0 for x in dims):
        raise WireError(f"negative dimension in dims {list(dims)}")
    count = 1
    for x in dims:
        count *= x
        if count > MAX_ELEMENTS:
            raise WireError(f"dims {list(dims)} describe more than 2**40 elements")
    if "segment" in d:
        raise WireError("segmented tensors (TensorProto.segment) are not supported")
    shape = dims
    location = int(d.get("data_location", 0))
    if location not in (0, 1):
        raise WireError(f"data_location is {location}, expected DEFAULT (0) or EXTERNAL (1)")
    present = [f for f in _TYPED_FIELDS if f in d and len(d[f])]
    if location == 1:
        if "raw_data" in d or present:
            raise WireError("data_location is EXTERNAL but the tensor also holds data inline")
        if t.bits == 0:
            raise WireError("string tensors cannot be stored externally")
        path, offset, length = _external(buf, d, t, count, ctx)
        return LazyTensor(name, t.name, dims, lambda: _read_external(path, offset, length, t, count, shape, name, ctx),
                          True)
    if "raw_data" in d:
        if present:
            raise WireError(f"holds both raw_data and {present[0]}")
        if t.bits == 0:
            raise WireError("a string tensor cannot use raw_data")
        ra, rb = d["raw_data"]
        need = dtypes.raw_size(t, count)
        if rb - ra != need:
            raise WireError(
                f"raw_data is {rb - ra} bytes but dims {list(dims)} of {t.name} need {need}"
            )
        return LazyTensor(name, t.name, dims, lambda: _from_raw(buf, ra, rb, t, count, shape), False)
    for f in present:
        if f != t.field:
            raise WireError(f"{t.name} tensor holds {f} (expected {t.field} or raw_data)")
    values = d.get(t.field)
    got = 0 if values is None else len(values)
    need = dtypes.typed_count(t, count)
    if got != need:
        raise WireError(f"{t.field} holds {got} values but dims {list(dims)} of {t.name} need {need}")
    if t.bits == 0:
        strings = [bytes(buf[x:y]) for x, y in values]
        return LazyTensor(name, t.name, dims, lambda: _strings(strings, shape), False)
    _check_range(t, values)
    return LazyTensor(name, t.name, dims, lambda: _from_typed(values, t, count, shape), False)


def _check_range(t: dtypes.ElemType, values) -> None:
    if t.field != "int32_data" or not len(values):
        return
    if t.code in (10, 16):  # float16 / bfloat16 bit patterns
        lo, hi = 0, 0xFFFF
    elif t.code in (2, 3, 4, 5):  # uint8, int8, uint16, int16
        info = np.iinfo(t.numpy)
        lo, hi = int(info.min), int(info.max)
    elif t.bits == 6:
        lo, hi = 0, 63
    elif t.numpy == "float32" or t.bits < 8:  # 8-bit float codes, packed 4- and 2-bit pairs
        lo, hi = 0, 255
    else:
        return
    if values.min() < lo or values.max() > hi:
        raise WireError(f"int32_data holds values outside [{lo}, {hi}] for {t.name}")


def _from_raw(buf, a: int, b: int, t: dtypes.ElemType, count: int, shape) -> np.ndarray:
    if t.name in _RAW_NATIVE:
        arr = np.frombuffer(buf, np.dtype(_RAW_NATIVE[t.name]), count, a) if count else np.zeros(0, t.numpy)
        if t.name == "bool":
            arr = arr != 0
        elif not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr.reshape(shape)
    if t.bits == 16:
        codes = np.frombuffer(buf, np.dtype("<u2"), count, a).astype(np.uint16)
    else:
        codes = np.frombuffer(buf, np.uint8, b - a, a) if b > a else np.zeros(0, np.uint8)
    return dtypes.widen(t, codes, count).reshape(shape)


def _from_typed(values: np.ndarray, t: dtypes.ElemType, count: int, shape) -> np.ndarray:
    if t.code in (1, 11, 7, 6, 13):
        return values.astype(t.numpy).reshape(shape)
    if t.code in (14, 15):
        return values.astype(np.float32 if t.code == 14 else np.float64).view(t.numpy).reshape(shape)
    if t.code == 10:
        return values.astype(np.uint16).view(np.float16).reshape(shape)
    if t.code == 9:
        return (values != 0).reshape(shape)
    if t.numpy != "float32" and t.bits >= 8:
        return values.astype(t.numpy).reshape(shape)
    if t.bits == 6:  # one 6-bit code per int32; widen() takes the packed raw_data layout
        return dtypes.widen(t, _pack6(values.astype(np.uint8)), count).reshape(shape)
    return dtypes.widen(t, values.astype(np.uint16 if t.bits == 16 else np.uint8), count).reshape(shape)


def _pack6(codes: np.ndarray) -> np.ndarray:
    pad = np.zeros(-(-codes.size // 4) * 4, np.uint32)
    pad[: codes.size] = codes
    g = pad.reshape(-1, 4)
    word = g[:, 0] | (g[:, 1] << 6) | (g[:, 2] << 12) | (g[:, 3] << 18)
    out = np.stack([word & 255, (word >> 8) & 255, (word >> 16) & 255], 1).astype(np.uint8).reshape(-1)
    return out[: (codes.size * 6 + 7) // 8]


def _strings(strings, shape) -> np.ndarray:
    out = np.empty(len(strings), dtype=object)
    for i, s in enumerate(strings):
        try:
            out[i] = s.decode("utf-8")
        except UnicodeDecodeError:
            out[i] = s
    return out.reshape(shape)


# -- external data --------------------------------------------------------------------------
def _external(buf, d: dict, t: dtypes.ElemType, count: int, ctx: TensorContext):
    entries = {}
    for a, b in d.get("external_data", []):
        e = decode(buf, a, b, schema.STRING_STRING_ENTRY)
        entries[e.get("key", "")] = e.get("value", "")
    return _resolve_external(entries, t, count, ctx)


def _resolve_external(entries: dict, t: dtypes.ElemType, count: int, ctx: TensorContext):
    location = entries.get("location")
    if not location:
        raise WireError("external data has no 'location'")
    if ctx.base_dir is None:
        raise WireError(
            f"external data {location!r} cannot be resolved: the model was given as bytes, not as a file"
        )
    if "\x00" in location or os.path.isabs(location) or location.startswith(("/", "\\")) or (
        len(location) > 1 and location[1] == ":"
    ):
        raise WireError(f"external data location {location!r} is an absolute path; it must be relative to the model")
    base = os.path.realpath(ctx.base_dir)
    path = os.path.realpath(os.path.join(base, location))
    try:
        inside = os.path.commonpath([base, path]) == base and path != base
    except ValueError:  # different drives on Windows
        inside = False
    if not inside:
        raise WireError(f"external data location {location!r} resolves to {path}, outside the model's folder {base}")
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries["length"]) if "length" in entries else None
    except ValueError:
        raise WireError(f"external data offset/length {entries.get('offset')!r}/{entries.get('length')!r} are not integers") from None
    try:
        st = os.stat(path)
    except OSError as e:
        raise WireError(f"external data file {location!r}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise WireError(f"external data {location!r} is not a regular file")
    need = dtypes.raw_size(t, count)
    if length is None:
        length = st.st_size - offset
    if offset < 0 or length < 0 or offset + length > st.st_size:
        raise WireError(
            f"external data {location!r} offset {offset} + length {length} exceeds the file's {st.st_size} bytes"
        )
    if length != need:
        raise WireError(f"external data {location!r} has {length} bytes but {count} {t.name} elements need {need}")
    return path, offset, length


def _read_external(path, offset, length, t, count, shape, name, ctx) -> np.ndarray:
    from ..errors import ModelFormatError

    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
    except OSError as e:
        raise ModelFormatError(ctx.source, f"tensor {name!r}: cannot read external data {path}: {e.strerror or e}") from None
    if len(data) != length:
        raise ModelFormatError(ctx.source, f"tensor {name!r}: external data {path} shrank while reading")
    return _from_raw(data, 0, length, t, count, shape)

"""Weight tensors from their coded streams (docs/bundle.md, "Tensor layouts").

Layouts, each turning symbol streams back into the tensor's bytes (little-endian words of
`width` bytes):

- raw: one stream of the bytes themselves.
- planes: stream k holds byte k of every element (floats: the sign/exponent plane is cheap).
- dense: codebook indices of every element (1-byte elements may skip the codebook: the
  indices are then the bytes themselves).
- mask: a 0/1 stream over the elements (1 = not the fill value), then indices of those elements.
- gaps: the same positions as gaps between them (g -> g//E escapes E, then g%E), then indices.

`check_tensor` validates an entry's sizes against the weights member and the element count
before anything is decoded; the decoded symbols are checked again (mask ones, gap positions)
before they index anything.
"""
from __future__ import annotations

import zlib
from typing import Dict, List

import numpy as np

from .manifest import LAYOUTS, STREAM_CODINGS, WIDTHS, Stream, TensorEntry, stream_roles
from .rans import RansStream, StreamError, decode_all, parse_stream

MAX_ALPHABET = 1 << 16
UINT = {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}
IDENTITY = np.arange(256, dtype=np.uint8)  # the implicit codebook of 1-byte elements


def expected_alphabet(t: TensorEntry, role: str) -> int:
    if role == "bytes" or role.startswith("plane"):
        return 256
    if role == "mask":
        return 2
    if role == "gaps":
        return t.gap_escape + 1
    return t.codebook_size or 256  # "indices", "values"; no codebook: the symbols are the bytes


def check_tensor(t: TensorEntry, weights_size: int) -> None:
    """Raise StreamError unless the entry is self-consistent and inside the weights member."""
    if t.width not in WIDTHS:
        raise StreamError(f"element width {t.width} is not one of {WIDTHS}")
    if t.nbytes < 0 or t.nbytes % t.width:
        raise StreamError(f"{t.nbytes} bytes is not a whole number of {t.width}-byte elements")
    if t.layout not in LAYOUTS:
        raise StreamError(f"unknown layout {t.layout!r}")
    roles = stream_roles(t)
    if tuple(s.role for s in t.streams) != roles:
        raise StreamError(f"layout {t.layout} needs streams {list(roles)}, got {[s.role for s in t.streams]}")
    n = t.elements
    if t.layout in ("dense", "mask", "gaps"):
        if t.codebook_size == 0 and t.width != 1:
            raise StreamError(f"only 1-byte elements may go without a codebook (width {t.width})")
        if not 0 <= t.codebook_size <= min(MAX_ALPHABET, max(n, 1)):
            raise StreamError(f"codebook of {t.codebook_size} entries for {n} elements")
        if t.codebook_offset < 0 or t.codebook_offset + t.codebook_size * t.width > weights_size:
            raise StreamError("codebook lies outside the weights member")
        if not 0 <= t.fill < (t.codebook_size or 256):
            raise StreamError(f"fill index {t.fill} outside the codebook")
    if t.layout == "gaps" and not 1 <= t.gap_escape < MAX_ALPHABET:
        raise StreamError(f"gap escape {t.gap_escape} outside 1..{MAX_ALPHABET - 1}")
    for s in t.streams:
        _check_stream(t, s, n, weights_size)


def _check_stream(t: TensorEntry, s: Stream, n: int, weights_size: int) -> None:
    what = f"stream {s.role!r}"
    if s.coding not in STREAM_CODINGS:
        raise StreamError(f"{what}: unknown coding {s.coding!r}")
    if s.alphabet != expected_alphabet(t, s.role):
        raise StreamError(f"{what}: alphabet {s.alphabet}, the layout implies {expected_alphabet(t, s.role)}")
    limits = {"bytes": t.nbytes, "gaps": n + n // max(t.gap_escape, 1)}
    most = limits.get(s.role, n)
    exact = s.role in ("bytes", "indices", "mask") or s.role.startswith("plane")
    if s.count < 0 or s.count > most or (exact and s.count != most):
        raise StreamError(f"{what}: {s.count} symbols, expected {'' if exact else 'at most '}{most}")
    if s.offset < 0 or s.size < 0 or s.offset + s.size > weights_size:
        raise StreamError(f"{what}: bytes {s.offset}..{s.offset + s.size} lie outside the weights member")
    if s.coding == "raw" and s.size != s.count * (1 if s.alphabet <= 256 else 2):
        raise StreamError(f"{what}: raw size {s.size} does not hold {s.count} symbols")
    if s.coding == "const" and (s.size != 0 or not 0 <= s.value < s.alphabet):
        raise StreamError(f"{what}: constant {s.value} must be < {s.alphabet} with no stored bytes")
    if s.coding in ("rans", "deflate") and s.count == 0:
        raise StreamError(f"{what}: an empty stream must be raw")


def decode_symbols(entries: List[TensorEntry], weights: bytes) -> Dict[int, List[np.ndarray]]:
    """Symbols of every stream of the given (checked) tensors; rANS streams decoded in one lockstep."""
    out: Dict[int, List[np.ndarray]] = {}
    pending: List[RansStream] = []
    where = []
    for ti, t in enumerate(entries):
        out[ti] = [None] * len(t.streams)
        for si, s in enumerate(t.streams):
            if s.coding == "raw":
                dt = "<u1" if s.alphabet <= 256 else "<u2"
                sym = np.frombuffer(weights, dt, s.count, s.offset).astype(np.int64)
                if s.count and int(sym.max()) >= s.alphabet:
                    raise StreamError(f"tensor {t.name!r}, stream {s.role!r}: raw symbol outside the alphabet")
                out[ti][si] = sym
            elif s.coding == "const":
                out[ti][si] = np.full(s.count, s.value, np.int64)
            elif s.coding == "deflate":
                try:
                    out[ti][si] = inflate_symbols(weights[s.offset:s.offset + s.size], s.count, s.alphabet)
                except StreamError as e:
                    raise StreamError(f"tensor {t.name!r}, stream {s.role!r}: {e}") from None
            else:
                try:
                    pending.append(parse_stream(weights, s.offset, s.offset + s.size, s.count, s.alphabet))
                except StreamError as e:
                    raise StreamError(f"tensor {t.name!r}, stream {s.role!r}: {e}") from None
                where.append((ti, si))
    try:
        decoded = decode_all(pending)
    except StreamError as e:
        raise StreamError(f"tensors {sorted({entries[ti].name for ti, _ in where})}: {e}") from None
    for (ti, si), sym in zip(where, decoded):
        out[ti][si] = sym
    return out


def inflate_symbols(data: bytes, count: int, alphabet: int) -> np.ndarray:
    """Symbols of a `deflate` stream: raw DEFLATE (RFC 1951) of the symbols as u8 (alphabet <= 256)
    or u16 LE, inflating to exactly that many bytes (a reader stops one byte past and refuses)."""
    width = 1 if alphabet <= 256 else 2
    want = count * width
    d = zlib.decompressobj(-15)
    try:
        raw = d.decompress(data, want + 1)
    except zlib.error as e:
        raise StreamError(f"deflate data is corrupt ({e})") from None
    if len(raw) != want or not d.eof or d.unused_data or d.unconsumed_tail:
        raise StreamError(f"deflate data does not inflate to exactly {want} bytes")
    sym = np.frombuffer(raw, "<u1" if width == 1 else "<u2").astype(np.int64)
    if int(sym.max()) >= alphabet:
        raise StreamError(f"deflate stream holds a symbol >= {alphabet}")
    return sym


def assemble(t: TensorEntry, symbols: List[np.ndarray], weights: bytes) -> np.ndarray:
    """The tensor's bytes (uint8 array of t.nbytes) from its decoded streams."""
    n, w = t.elements, t.width
    if t.layout == "raw":
        return symbols[0].astype(np.uint8)
    if t.layout == "planes":
        planes = np.empty((n, w), np.uint8)
        for k, sym in enumerate(symbols):
            planes[:, k] = sym
        return planes.reshape(-1)
    if t.codebook_size:
        book = np.frombuffer(weights, UINT[w], t.codebook_size, t.codebook_offset)
    else:
        book = IDENTITY
    if t.layout == "dense":
        return book[symbols[0]].view(np.uint8)
    positions, values = symbols
    if t.layout == "mask":
        keep = positions.astype(bool)
        if int(keep.sum()) != len(values):
            raise StreamError(f"mask marks {int(keep.sum())} elements but {len(values)} values follow")
    else:
        keep = gap_positions(positions, t.gap_escape, n, len(values))
    dense = np.full(n, book[t.fill], book.dtype)
    dense[keep] = book[values]
    return dense.view(np.uint8)


def gap_positions(gaps: np.ndarray, escape: int, n: int, m: int) -> np.ndarray:
    """Element positions from gap symbols: an escape adds `escape`, a symbol g < escape adds g + 1."""
    if m == 0:
        if len(gaps):
            raise StreamError("gap symbols but no values")
        return np.zeros(0, np.int64)
    if len(gaps) == 0 or gaps[-1] == escape:
        raise StreamError("gap stream ends inside an escape")
    terminal = gaps != escape
    if int(terminal.sum()) != m:
        raise StreamError(f"gaps give {int(terminal.sum())} positions but {m} values follow")
    pos = np.cumsum(np.where(terminal, gaps + 1, escape))[terminal] - 1
    if pos[-1] >= n:
        raise StreamError(f"gap positions run to {int(pos[-1])}, past the tensor's {n} elements")
    return pos

"""The .ewb container: header, manifest, members, optional HMAC trailer (docs/bundle.md).

Everything is checked before it is used: the header's sizes against the file, the manifest's
SHA-256, every member's SHA-256, and every size the manifest declares against the file, against
each other and against a ceiling the caller can lower. Nothing is allocated from a size that has
not passed those checks.

Coding is not encryption: anyone with the file can decode the model. The HMAC-SHA256 trailer
(RFC 2104) proves that someone holding the shared key wrote the bundle; it hides nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Optional

from ..errors import ModelFormatError
from ..records import RecordError
from .manifest import FORMAT, MEMBER_CODINGS, Manifest

MAGIC = b"\x89EWB\r\n\x1a\n"
VERSION = (2, 0)
HEADER = struct.Struct("<8sHHIII32s")  # magic, major, minor, flags, manifest stored/decoded size, manifest SHA-256
FLAG_MANIFEST_ZLIB = 1
FLAG_SIGNED = 2
KNOWN_FLAGS = FLAG_MANIFEST_ZLIB | FLAG_SIGNED
SIGNATURE_BYTES = 32
MAX_MANIFEST_BYTES = 16 << 20
MEMBERS = ("graph", "weights")


class BundleError(ModelFormatError):
    """A bundle is malformed, tampered with or hostile; names the member (or "header"/"manifest")."""

    def __init__(self, source: str, member: str, detail: str):
        self.member = member
        super().__init__(source, f"bundle {member}: {detail}")


class BundleSignatureError(BundleError):
    """The HMAC-SHA256 signature is missing or does not match the key."""


def is_bundle(data) -> bool:
    return bytes(data[:8]) == MAGIC


def sha256_hex(data) -> str:
    return hashlib.sha256(data).hexdigest()


def inflate(data: bytes, limit: int, source: str, member: str) -> bytes:
    """zlib-decompress at most `limit` bytes; more (a decompression bomb) or fewer is an error."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise BundleError(source, member, f"zlib data is corrupt ({e})") from None
    if len(out) > limit or d.unconsumed_tail:
        raise BundleError(source, member, f"inflates past its declared {limit} bytes")
    if len(out) != limit or not d.eof:
        raise BundleError(source, member, f"inflates to {len(out)} bytes, declared {limit}")
    return out


@dataclass(frozen=True)
class Container:
    """A bundle whose header, manifest and member hashes have been checked."""

    source: str
    manifest: Manifest
    manifest_bytes: bytes
    signed: bool
    data: bytes
    payload_start: int

    def member_bytes(self, name: str) -> bytes:
        m = self.manifest.member(name)
        raw = self.data[self.payload_start + m.offset:self.payload_start + m.offset + m.size]
        return raw if m.coding == "none" else inflate(raw, m.decoded_size, self.source, f"member {name!r}")


def read_container(data: bytes, source: str, key: Optional[bytes] = None, max_decoded_bytes: int = 2 << 30) -> Container:
    """Check header, signature, manifest and member hashes; return the container. Raises BundleError."""
    if len(data) < HEADER.size:
        raise BundleError(source, "header", f"file is {len(data)} bytes, shorter than the {HEADER.size}-byte header")
    magic, major, minor, flags, mstored, mdecoded, mhash = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise BundleError(source, "header", f"magic is {magic!r}, expected {MAGIC!r}")
    if major != VERSION[0]:
        raise BundleError(source, "header", f"format version {major}.{minor}; this runtime reads {VERSION[0]}.x")
    if flags & ~KNOWN_FLAGS:
        raise BundleError(source, "header", f"unknown flags 0x{flags:x}")
    signed = bool(flags & FLAG_SIGNED)
    end = len(data) - (SIGNATURE_BYTES if signed else 0)
    if end < HEADER.size:
        raise BundleError(source, "signature", "file too short to hold its signature")
    _check_signature(data, end, signed, key, source)
    if mstored > end - HEADER.size:
        raise BundleError(source, "manifest", f"declares {mstored} bytes, only {end - HEADER.size} follow the header")
    if mdecoded > MAX_MANIFEST_BYTES:
        raise BundleError(source, "manifest", f"declares {mdecoded} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")
    stored = data[HEADER.size:HEADER.size + mstored]
    if flags & FLAG_MANIFEST_ZLIB:
        text = inflate(stored, mdecoded, source, "manifest")
    elif mstored != mdecoded:
        raise BundleError(source, "manifest", f"stored size {mstored} and decoded size {mdecoded} differ")
    else:
        text = stored
    if hashlib.sha256(text).digest() != mhash:
        raise BundleError(source, "manifest", "SHA-256 does not match the header (tampered or corrupt)")
    manifest = _parse_manifest(text, source)
    payload_start = HEADER.size + mstored
    _check_members(manifest, data, payload_start, end, source, max_decoded_bytes)
    return Container(source, manifest, text, signed, data, payload_start)


def _check_signature(data: bytes, end: int, signed: bool, key: Optional[bytes], source: str) -> None:
    if key is None:
        return
    if not signed:
        raise BundleSignatureError(source, "signature", "a key was given but the bundle is not signed")
    want = hmac.new(key, data[:end], hashlib.sha256).digest()
    if not hmac.compare_digest(want, data[end:end + SIGNATURE_BYTES]):
        raise BundleSignatureError(source, "signature", "HMAC-SHA256 does not match (wrong key, or the file was altered)")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _parse_manifest(text: bytes, source: str) -> Manifest:
    try:
        doc = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
        manifest = Manifest.from_dict(doc)
    except (UnicodeDecodeError, ValueError, RecordError, TypeError) as e:
        raise BundleError(source, "manifest", f"not a valid manifest: {e}") from None
    if manifest.format != FORMAT or manifest.version != VERSION[0]:
        raise BundleError(source, "manifest", f"format {manifest.format!r} version {manifest.version}, "
                                              f"expected {FORMAT!r} version {VERSION[0]}")
    if manifest.model.format not in ("tflite", "onnx"):
        raise BundleError(source, "manifest", f"model format {manifest.model.format!r} is not tflite or onnx")
    return manifest


def _check_members(manifest: Manifest, data: bytes, start: int, end: int, source: str, ceiling: int) -> None:
    names = tuple(m.name for m in manifest.members)
    if names != MEMBERS:
        raise BundleError(source, "manifest", f"members are {list(names)}, expected {list(MEMBERS)}")
    if not 0 <= manifest.model.size <= ceiling:
        raise BundleError(source, "manifest", f"declares a {manifest.model.size}-byte model, over the ceiling of {ceiling}")
    pos = 0
    for m in manifest.members:
        what = f"member {m.name!r}"
        if m.coding not in MEMBER_CODINGS:
            raise BundleError(source, what, f"unknown coding {m.coding!r}")
        if m.offset != pos or m.size < 0:
            raise BundleError(source, what, f"offset {m.offset} / size {m.size} do not follow the previous member")
        pos += m.size
        if pos > end - start:
            raise BundleError(source, what, f"ends at {pos} but the payload holds {end - start} bytes (truncated)")
        if m.coding == "none" and m.decoded_size != m.size:
            raise BundleError(source, what, f"decoded size {m.decoded_size} differs from stored size {m.size}")
        if not 0 <= m.decoded_size <= manifest.model.size:
            raise BundleError(source, what, f"decoded size {m.decoded_size} exceeds the model's {manifest.model.size} bytes")
        if sha256_hex(data[start + m.offset:start + pos]) != m.sha256:
            raise BundleError(source, what, "SHA-256 does not match the manifest (tampered or corrupt)")
    if pos != end - start:
        raise BundleError(source, "payload", f"{end - start - pos} bytes after the last member")

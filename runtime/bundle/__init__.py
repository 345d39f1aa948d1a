"""Read `.ewb` bundles: one file holding a model's graph and its entropy-coded weights.

    from edgewise.runtime.bundle import decode_model
    model_bytes = decode_model("model.ewb")   # the original .tflite/.onnx, bit for bit

`edgewise.runtime.load("model.ewb")` does this itself. Needs only NumPy and the standard library.
The format is specified in docs/bundle.md. Coding is compression, not encryption.
"""
from __future__ import annotations

import hashlib
import os
from typing import List, Optional

from .container import (
    MAGIC, BundleError, BundleSignatureError, Container, is_bundle, read_container,
)
from .manifest import Manifest, TensorEntry
from .rans import StreamError
from .tensors import assemble, check_tensor, decode_symbols

__all__ = [
    "MAGIC", "BundleError", "BundleSignatureError", "Manifest", "TensorEntry", "is_bundle", "read_bundle",
    "decode_model", "decode_container", "MAX_DECODED_BYTES", "KEY_FILE_ENV",
]

MAX_DECODED_BYTES = 2 << 30  # ceiling on the decoded model; lower it on small devices
BATCH_SYMBOLS = 1 << 22  # streams decoded together in one lockstep (bounds the scratch memory)
KEY_FILE_ENV = "EDGEWISE_BUNDLE_KEY_FILE"  # if set, load() requires a valid HMAC under this key


def _read(path_or_bytes, source: Optional[str] = None):
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), source or "<bytes>"
    path = os.fspath(path_or_bytes)
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except OSError as e:
        raise BundleError(path, "file", f"cannot read: {e.strerror or e}") from None


def env_key() -> Optional[bytes]:
    path = os.environ.get(KEY_FILE_ENV)
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BundleSignatureError(path, "signature", f"cannot read the key file named by {KEY_FILE_ENV}: "
                                                      f"{e.strerror or e}") from None


def read_bundle(path_or_bytes, key: Optional[bytes] = None, max_decoded_bytes: Optional[int] = None,
                source: Optional[str] = None) -> Container:
    """The checked container (manifest, member hashes, signature if `key`); decodes nothing yet.

    `max_decoded_bytes` (default MAX_DECODED_BYTES) bounds the model size a bundle may declare.
    `source` names the bundle in errors when bytes are given.
    """
    data, source = _read(path_or_bytes, source)
    ceiling = MAX_DECODED_BYTES if max_decoded_bytes is None else max_decoded_bytes
    return read_container(data, source, key, ceiling)


def decode_model(path_or_bytes, key: Optional[bytes] = None, max_decoded_bytes: Optional[int] = None,
                 source: Optional[str] = None) -> bytes:
    """The model file the bundle holds, checked against the SHA-256 in the manifest.

    With `key`, the bundle must carry a valid HMAC-SHA256 under it (BundleSignatureError if not).
    """
    return decode_container(read_bundle(path_or_bytes, key, max_decoded_bytes, source))


def _check_ranges(c: Container, graph_size: int) -> List[TensorEntry]:
    m = c.manifest
    weights_size = m.member("weights").decoded_size
    entries = sorted(m.tensors, key=lambda t: t.offset)
    pos = 0
    for t in entries:
        if t.offset < pos or t.nbytes < 0 or t.offset + t.nbytes > m.model.size:
            raise BundleError(c.source, f"tensor {t.name!r}", f"bytes {t.offset}..{t.offset + t.nbytes} overlap "
                                                               f"another tensor or leave the {m.model.size}-byte model")
        pos = t.offset + t.nbytes
        try:
            check_tensor(t, weights_size)
        except StreamError as e:
            raise BundleError(c.source, f"tensor {t.name!r}", str(e)) from None
    if graph_size + sum(t.nbytes for t in entries) != m.model.size:
        raise BundleError(c.source, "member 'graph'", f"{graph_size} graph bytes and {sum(t.nbytes for t in entries)} "
                                                      f"tensor bytes do not add up to the {m.model.size}-byte model")
    return entries


def decode_container(c: Container) -> bytes:
    m = c.manifest
    gm = m.member("graph")
    entries = _check_ranges(c, gm.decoded_size)
    graph = c.member_bytes("graph")
    weights = c.member_bytes("weights")
    out = bytearray(m.model.size)
    gpos = pos = 0
    batch: List[TensorEntry] = []
    for i, t in enumerate(entries):
        gap = t.offset - pos
        out[pos:t.offset] = graph[gpos:gpos + gap]
        gpos += gap
        pos = t.offset + t.nbytes
        batch.append(t)
        if sum(s.count for b in batch for s in b.streams) >= BATCH_SYMBOLS or i == len(entries) - 1:
            _decode_batch(c.source, batch, weights, out)
            batch = []
    out[pos:] = graph[gpos:]
    if hashlib.sha256(out).hexdigest() != m.model.sha256:
        raise BundleError(c.source, "model", "decoded model does not match its SHA-256 in the manifest")
    return bytes(out)


def _decode_batch(source: str, batch: List[TensorEntry], weights: bytes, out: bytearray) -> None:
    try:
        symbols = decode_symbols(batch, weights)
    except StreamError as e:
        raise BundleError(source, "member 'weights'", str(e)) from None
    for i, t in enumerate(batch):
        try:
            arr = assemble(t, symbols[i], weights)
        except StreamError as e:
            raise BundleError(source, f"tensor {t.name!r}", str(e)) from None
        out[t.offset:t.offset + t.nbytes] = arr.tobytes()

"""A bundle that is tampered with, truncated, hostile or signed with another key is refused.

The bundles here hold synthetic "models" (bytes with weight tensors at known places): the
container does not parse the model it carries, so no converter is needed. Hostile bundles are
re-sealed (hashes recomputed), as an attacker would, so the checks behind the hashes are reached.
"""
from __future__ import annotations

import functools
import json
import os
import tracemalloc

import numpy as np
import pytest

from edgewise.bundle.locate import WeightRange
from edgewise.bundle.pack import build_bundle, seal, unpack, write_container
from edgewise.runtime import ModelFormatError, load
from edgewise.runtime.bundle import (
    MAGIC, BundleError, BundleSignatureError, Manifest, decode_model, read_bundle,
)
from edgewise.runtime.bundle.container import HEADER, sha256_hex
from edgewise.runtime.model import BUNDLE_MAGIC


def _model():
    rng = np.random.default_rng(0)
    pruned = np.where(rng.random(4000) < 0.1, rng.integers(-127, 128, 4000), 0).astype(np.int8)
    clustered = rng.choice(np.linspace(-1, 1, 8).astype(np.float32), 1000)
    bias = rng.integers(-5000, 5000, 64).astype(np.int32)
    parts = [b"HEADER" * 7, pruned.tobytes(), b"graph-in-between" * 3, clustered.tobytes(), b"x" * 5, bias.tobytes(),
             b"END"]
    data = b"".join(parts)
    offsets = np.cumsum([0] + [len(p) for p in parts])
    ranges = [WeightRange("pruned", "int8", (4000,), int(offsets[1]), 4000, 1),
              WeightRange("clustered", "float32", (1000,), int(offsets[3]), 4000, 4),
              WeightRange("bias", "int32", (64,), int(offsets[5]), 256, 4)]
    return data, ranges


@functools.lru_cache(maxsize=None)
def _bundle(key=None, file="model.tflite"):
    data, ranges = _model()
    blob, result = build_bundle(data, "tflite", ranges, file=file, name="model", key=key)
    return data, blob, result


def _reseal(blob: bytes, edit) -> bytes:
    """Apply `edit(manifest_dict)` and rewrite the container with fresh manifest hashes."""
    c = read_bundle(blob)
    doc = c.manifest.to_dict()
    edit(doc)
    return seal(json.dumps(doc).encode(), blob[c.payload_start:])


def test_round_trip_and_sizes():
    data, blob, r = _bundle()
    assert blob[:8] == MAGIC == BUNDLE_MAGIC
    assert decode_model(blob) == data
    assert r.download_bytes == len(blob) and r.disk_bytes == len(data) and r.ram_bytes == 4000 + 4000 + 256
    assert {t.name: t.layout for t in r.tensors}["pruned"] in ("mask", "gaps")
    assert {t.name: t.layout for t in r.tensors}["clustered"] == "dense"
    assert len(blob) < len(data) / 2


def test_every_flipped_byte_is_caught_and_named():
    data, blob, _ = _bundle()
    c = read_bundle(blob)
    graph, weights = c.manifest.members
    regions = {"header": 3, "manifest": HEADER.size + 5, "member 'graph'": c.payload_start + graph.size // 2,
               "member 'weights'": c.payload_start + graph.size + weights.size // 2}
    for member, pos in regions.items():
        bad = bytearray(blob)
        bad[pos] ^= 0x10
        with pytest.raises(BundleError) as e:
            decode_model(bytes(bad))
        assert member in str(e.value), (member, str(e.value))


def test_every_truncation_is_refused():
    data, blob, _ = _bundle()
    for n in sorted({0, 7, 8, HEADER.size - 1, HEADER.size, HEADER.size + 10, len(blob) // 2, len(blob) - 1}):
        with pytest.raises(BundleError):
            decode_model(blob[:n])
    with pytest.raises(BundleError, match="payload"):
        decode_model(blob + b"\0")


def test_load_names_the_bundle_in_errors(tmp_path):
    data, blob, _ = _bundle()
    p = tmp_path / "m.ewb"
    p.write_bytes(blob[:-3])
    with pytest.raises(ModelFormatError, match="m.ewb"):
        load(str(p), backend="numpy")


def _hostile(edit):
    data, blob, _ = _bundle()
    return _reseal(blob, edit)


def _tensor(doc, name):
    return next(t for t in doc["tensors"] if t["name"] == name)


@pytest.mark.parametrize("what, edit, message", [
    ("huge model", lambda d: d["model"].update(size=1 << 40), "ceiling"),
    ("huge member", lambda d: d["members"][0].update(decoded_size=1 << 40), "exceeds"),
    ("huge stream", lambda d: _tensor(d, "pruned")["streams"][0].update(count=1 << 40), "symbols"),
    ("tensor past the model", lambda d: _tensor(d, "bias").update(offset=1 << 30), "leave"),
    ("overlapping tensors", lambda d: _tensor(d, "clustered").update(offset=_tensor(d, "pruned")["offset"] + 1),
     "overlap"),
    ("codebook outside", lambda d: _tensor(d, "clustered").update(codebook_offset=1 << 30), "codebook"),
    ("stream outside", lambda d: _tensor(d, "bias")["streams"][0].update(offset=1 << 30), "outside"),
    ("unknown layout", lambda d: _tensor(d, "bias").update(layout="zip"), "layout"),
    ("wrong width", lambda d: _tensor(d, "bias").update(width=3), "width"),
    ("alphabet", lambda d: _tensor(d, "pruned")["streams"][1].update(alphabet=70000), "alphabet"),
    ("model hash", lambda d: d["model"].update(sha256="0" * 64), "SHA-256"),
    ("not a manifest", lambda d: d.update(tensors="many"), "manifest"),
    ("unknown field", lambda d: d.update(surprise=1), "surprise"),
])
def test_hostile_declarations_are_refused_before_allocating(what, edit, message):
    blob = _hostile(edit)
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match=message):
            decode_model(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{what}: {peak} bytes allocated before refusing"


def test_ceiling_is_settable():
    data, blob, _ = _bundle()
    with pytest.raises(BundleError, match="ceiling"):
        decode_model(blob, max_decoded_bytes=len(data) - 1)
    assert decode_model(blob, max_decoded_bytes=len(data)) == data


def test_zlib_bomb_in_graph_is_refused():
    data, blob, _ = _bundle()
    c = read_bundle(blob)
    import zlib

    bomb = zlib.compress(b"\0" * (50 << 20), 9)
    doc = c.manifest.to_dict()
    g, w = doc["members"]
    weights = blob[c.payload_start + g["size"]:]
    g.update(size=len(bomb), sha256=sha256_hex(bomb))
    w.update(offset=len(bomb))
    resealed = write_container(Manifest.from_dict(doc), bomb + weights)
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match="inflates past"):
            decode_model(resealed)
        assert tracemalloc.get_traced_memory()[1] < 16 << 20
    finally:
        tracemalloc.stop()


def test_hmac_signature():
    key = b"shared secret between host and fleet"
    data, blob, r = _bundle(key=key)
    assert r.signed
    assert decode_model(blob, key=key) == data
    assert decode_model(blob) == data  # without a key the hashes still hold; signing adds who wrote it
    with pytest.raises(BundleSignatureError, match="does not match"):
        decode_model(blob, key=b"another key")
    bad = bytearray(blob)
    bad[HEADER.size + 3] ^= 1
    with pytest.raises(BundleSignatureError):
        decode_model(bytes(bad), key=key)
    _, unsigned, _ = _bundle()
    with pytest.raises(BundleSignatureError, match="not signed"):
        decode_model(unsigned, key=key)


def test_load_requires_the_signature_when_a_key_file_is_set(tmp_path, monkeypatch):
    key = b"k" * 32
    (tmp_path / "key").write_bytes(key)
    _, unsigned, _ = _bundle()
    (tmp_path / "m.ewb").write_bytes(unsigned)
    monkeypatch.setenv("EDGEWISE_BUNDLE_KEY_FILE", str(tmp_path / "key"))
    with pytest.raises(BundleSignatureError, match="not signed"):
        load(str(tmp_path / "m.ewb"), backend="numpy")


def test_unpack_writes_the_model_and_manifest(tmp_path):
    data, blob, _ = _bundle()
    (tmp_path / "m.ewb").write_bytes(blob)
    written = unpack(tmp_path / "m.ewb", tmp_path / "out")
    assert sorted(os.path.basename(p) for p in written) == ["manifest.json", "model.tflite"]
    assert (tmp_path / "out" / "model.tflite").read_bytes() == data
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["model"]["sha256"] == sha256_hex(data)


@pytest.mark.parametrize("name", ["../evil.tflite", "/tmp/evil.tflite", "sub/evil.tflite", "..", "a\\..\\b", "C:evil"])
def test_unpack_refuses_path_traversal(tmp_path, name):
    blob = _hostile(lambda d: d["model"].update(file=name))
    (tmp_path / "m.ewb").write_bytes(blob)
    before = set(os.listdir(tmp_path))
    with pytest.raises(BundleError, match="path traversal"):
        unpack(tmp_path / "m.ewb", tmp_path / "out")
    assert set(os.listdir(tmp_path)) - before <= {"out"}
    assert not os.path.exists("/tmp/evil.tflite") or name != "/tmp/evil.tflite"


def test_unpack_refuses_to_write_through_a_symlink(tmp_path):
    data, blob, _ = _bundle()
    (tmp_path / "m.ewb").write_bytes(blob)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    os.symlink(victim, out / "model.tflite")
    with pytest.raises(BundleError, match="symlink"):
        unpack(tmp_path / "m.ewb", out)
    assert victim.read_bytes() == b"keep me"


def test_many_tiny_streams_with_huge_alphabets_are_refused_cheaply():
    """A re-sealed manifest declaring thousands of 1-element tensors whose gap streams have a
    65536-symbol alphabet must not make the reader allocate per-alphabet tables for each."""
    from edgewise.runtime.bundle.rans import StreamError, parse_stream
    from edgewise.bundle.rans_encode import encode, quantize_freqs

    sym = np.array([0, 65535], np.int64)
    counts = np.bincount(sym, minlength=65536)
    blob = encode(sym, 65536, 1, 2, quantize_freqs(counts, 2))
    s = parse_stream(blob, 0, len(blob), 2, 65536)
    assert s.freqs.nbytes <= 16 and s.symbols.tolist() == [0, 65535]  # k entries, not 65536
    from edgewise.bundle.rans_encode import varint

    # precision 16, 1 lane, table {0: 32768, 65535: 32768}, state 2**16, no words: hand-made, since
    # the encoder refuses to write it
    wide = bytes([16]) + varint(1) + varint(4) + varint(0) + varint(32767) + varint(65534) + varint(32767) \
        + (1 << 16).to_bytes(4, "little")
    with pytest.raises(StreamError, match="precision"):
        parse_stream(wide, 0, len(wide), 2, 65536)  # a 65536-slot table for 2 symbols

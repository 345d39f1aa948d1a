"""`pack()` a .tflite/.onnx into a .ewb bundle, and `unpack()` it again (format: docs/bundle.md).

The model file is split into the graph (every byte that is not a weight tensor) and the weight
tensors, coded one by one (coding.py). Decoding puts the bytes back exactly where they were, so the
unpacked model is the original file bit for bit and its SHA-256 proves it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import zlib
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Tuple

from edgewise.fileio import write_bytes_atomic
from edgewise.runtime.bundle import BundleError, decode_container, read_bundle
from edgewise.runtime.bundle.container import (
    FLAG_MANIFEST_ZLIB, FLAG_SIGNED, HEADER, MAGIC, VERSION, sha256_hex,
)
from edgewise.runtime.bundle.manifest import FORMAT, Manifest, Member, ModelInfo, Stream, TensorEntry
from edgewise.runtime.model import detect_format, read_source
from edgewise.runtime.records import Record
from edgewise.runtime.spec import TensorSpec

from .coding import TensorPlan, choose_lanes, entropy_bytes, lanes_for, plan_tensor, two_part_bytes
from .locate import WeightRange, weight_ranges
from .rans_encode import encode


@dataclass(frozen=True)
class TensorRecord(Record):
    """How one tensor was coded, and what that cost against its floor."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    nbytes: int
    layout: str
    codings: Tuple[str, ...]  # "role:coding" per stream
    coded_bytes: int  # codebook + streams
    entropy_bytes: float  # order-0 floor of the stored symbol streams
    distinct: int = 0  # codebook entries (0 without a codebook)
    two_part_bytes: float = 0.0  # an ideal two-part code of the same streams (coding.two_part_bytes)


@dataclass(frozen=True)
class PackResult(Record):
    """The three sizes users care about, and the per-tensor choices."""

    path: str
    model: str
    format: str
    download_bytes: int  # the .ewb
    disk_bytes: int  # the model once unpacked
    ram_bytes: int  # constants held in memory at run time, dense (runtime.summary.constant_bytes; build_bundle: as stored)
    graph_bytes: int  # graph member as stored
    weights_bytes: int  # weights member (codebooks, tables, lane states, coded streams)
    manifest_bytes: int
    entropy_floor_bytes: float  # sum of the streams' order-0 entropies
    lanes: int
    steps: int
    signed: bool
    tensors: Tuple[TensorRecord, ...]

    two_part_bytes: float = 0.0  # sum of coding.two_part_bytes over the streams: what an ideal adaptive coder reaches

    @property
    def entropy_ratio(self) -> float:
        return self.weights_bytes / self.entropy_floor_bytes if self.entropy_floor_bytes else 1.0

    @property
    def two_part_ratio(self) -> float:
        return self.weights_bytes / self.two_part_bytes if self.two_part_bytes else 1.0

    _derived = ("entropy_ratio", "two_part_ratio")


def _report_fields(report_path: Optional[str], model_file: str) -> Dict[str, Any]:
    """recipe, preprocessing and measured figures from a pipeline report.json (kept as JSON)."""
    if report_path is None:
        return {}
    try:
        with open(report_path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{report_path}: cannot read the recipe report: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{report_path}: the recipe report is not a JSON object")
    measured: Dict[str, Any] = {}
    for a in doc.get("artifacts") or ():
        if isinstance(a, dict) and os.path.basename(str(a.get("path", ""))) == model_file:
            measured = {k: a[k] for k in ("accuracy", "size_bytes", "precision", "backend", "sparsity") if k in a}
    if isinstance(doc.get("baseline"), dict):
        measured["baseline"] = {k: doc["baseline"][k] for k in ("accuracy", "size_bytes") if k in doc["baseline"]}
    recipe = doc.get("recipe")
    if recipe is None and isinstance(doc.get("pruning"), dict):
        recipe = {"pruning": doc["pruning"].get("config")}
    return {"recipe": recipe, "preprocessing": doc.get("preprocessing"), "report": measured or None}


def _encode_tensors(ranges: List[WeightRange], plans: List[TensorPlan], steps: int):
    weights = bytearray()
    entries, records = [], []
    floor = 0.0
    for r, p in zip(ranges, plans):
        start = len(weights)
        book_off = len(weights)
        if p.codebook is not None:
            weights += p.codebook.astype(p.codebook.dtype.newbyteorder("<")).tobytes()
        streams, codings, ent, learned = [], [], 0.0, 0.0
        for s in p.streams:
            off = len(weights)
            if s.coding == "rans":
                lanes = lanes_for(len(s.symbols), steps)
                weights += encode(s.symbols, s.alphabet, lanes, s.precision, s.freqs)
            elif s.coding == "raw":
                weights += s.raw_bytes()
            elif s.coding == "deflate":
                weights += s.payload
            value = int(s.symbols[0]) if s.coding == "const" else 0
            streams.append(Stream(s.role, s.coding, off, len(weights) - off, len(s.symbols), s.alphabet, value))
            codings.append(f"{s.role}:{s.coding}")
            ent += entropy_bytes(s.symbols, s.alphabet)
            learned += two_part_bytes(s.symbols, s.alphabet)
        floor += ent
        book = 0 if p.codebook is None else len(p.codebook)
        entries.append(TensorEntry(r.name, r.dtype, r.shape, r.offset, r.nbytes, r.width, p.layout, tuple(streams),
                                   book_off if book else 0, book, p.fill, p.gap_escape))
        records.append(TensorRecord(r.name, r.dtype, r.shape, r.nbytes, p.layout, tuple(codings),
                                    len(weights) - start, round(ent, 3), book, round(learned, 3)))
    return bytes(weights), entries, records, floor


def _graph(data: bytes, ranges: List[WeightRange]) -> bytes:
    parts, pos = [], 0
    for r in ranges:
        parts.append(data[pos:r.offset])
        pos = r.offset + r.nbytes
    parts.append(data[pos:])
    return b"".join(parts)


def _member(name: str, raw: bytes, offset: int) -> Tuple[Member, bytes]:
    packed = zlib.compress(raw, 9)
    if len(packed) < len(raw):
        return Member(name, offset, len(packed), sha256_hex(packed), "zlib", len(raw)), packed
    return Member(name, offset, len(raw), sha256_hex(raw), "none", len(raw)), raw


def write_container(manifest: Manifest, payload: bytes, key: Optional[bytes] = None) -> bytes:
    text = json.dumps(manifest.to_dict(), separators=(",", ":"), sort_keys=False, allow_nan=False).encode("utf-8")
    return seal(text, payload, key)


def seal(text: bytes, payload: bytes, key: Optional[bytes] = None) -> bytes:
    """Header + manifest (zlib when smaller) + payload [+ HMAC-SHA256 of all of it under `key`]."""
    packed = zlib.compress(text, 9)
    flags = FLAG_SIGNED if key is not None else 0
    stored = text
    if len(packed) < len(text):
        flags |= FLAG_MANIFEST_ZLIB
        stored = packed
    head = HEADER.pack(MAGIC, VERSION[0], VERSION[1], flags, len(stored), len(text), hashlib.sha256(text).digest())
    body = head + stored + payload
    if key is not None:
        body += hmac.new(key, body, hashlib.sha256).digest()
    return body


def build_bundle(data: bytes, fmt: str, ranges: List[WeightRange], *, file: str, name: str,
                 inputs: Tuple[TensorSpec, ...] = (), outputs: Tuple[TensorSpec, ...] = (), key: Optional[bytes] = None,
                 fields: Optional[Dict[str, Any]] = None, path: str = "") -> Tuple[bytes, PackResult]:
    """The bundle bytes of model `data` whose weights lie at `ranges`, checked to decode back to `data`."""
    from .. import __version__

    plans = [plan_tensor(r.words(data)) for r in ranges]
    steps, lanes = choose_lanes(plans)
    weights, entries, records, floor = _encode_tensors(ranges, plans, steps)
    graph_member, graph_stored = _member("graph", _graph(data, ranges), 0)
    weights_member = Member("weights", len(graph_stored), len(weights), sha256_hex(weights), "none", len(weights))
    manifest = Manifest(
        FORMAT, VERSION[0], name, __version__, ModelInfo(fmt, len(data), sha256_hex(data), file),
        (graph_member, weights_member), tuple(entries), tuple(inputs), tuple(outputs), **(fields or {}),
    )
    blob = write_container(manifest, graph_stored + weights, key)
    if decode_container(read_bundle(blob, key)) != data:  # never ship a bundle that does not round-trip
        raise BundleError(path or file, "model", "the written bundle does not decode to the model (encoder bug)")
    result = PackResult(
        path, file, fmt, len(blob), len(data), sum(r.nbytes for r in ranges), graph_member.size, len(weights),
        len(blob) - HEADER.size - graph_member.size - len(weights) - (32 if key is not None else 0),
        round(floor, 3), lanes, steps, key is not None, tuple(records),
        round(sum(t.two_part_bytes for t in records), 3),
    )
    return blob, result


def pack(model_path: "str | os.PathLike", out_path: "str | os.PathLike", recipe_report: Optional[str] = None,
         key: Optional[bytes] = None, name: Optional[str] = None) -> PackResult:
    """Write `model_path` (.tflite or .onnx) as a bundle at `out_path` (atomically); return what was chosen.

    `recipe_report`: a pipeline report.json whose recipe, preprocessing and measured accuracy and
    sizes go into the manifest. `key`: sign the bundle with HMAC-SHA256 (integrity, not secrecy).
    """
    from ..runtime.summary import constant_bytes, inspect_model

    model_path, out_path = os.fspath(model_path), os.fspath(out_path)
    data, source, _ = read_source(model_path)
    fmt = detect_format(data, source)
    summary = inspect_model(model_path)
    file = os.path.basename(model_path)
    blob, result = build_bundle(
        data, fmt, weight_ranges(data, fmt, source), file=file, name=name or os.path.splitext(file)[0],
        inputs=summary.inputs, outputs=summary.outputs, key=key, fields=_report_fields(recipe_report, file),
        path=out_path,
    )
    write_bytes_atomic(out_path, blob)
    # build_bundle counts the coded tensors' bytes as stored; the runtimes hold every constant dense.
    return replace(result, path=out_path, model=model_path, ram_bytes=constant_bytes(data, source))


def _safe_name(name: str, source: str) -> str:
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or os.path.isabs(name)
           or (len(name) > 1 and name[1] == ":"))
    if bad:
        raise BundleError(source, "manifest", f"model file name {name!r} is not a plain file name (path traversal refused)")
    return name


def unpack(bundle_path: "str | os.PathLike", out_dir: "str | os.PathLike", key: Optional[bytes] = None) -> List[str]:
    """Decode the bundle into `out_dir`: the model file and manifest.json. Returns the paths written.

    Only plain file names are written, inside `out_dir`; a name with a folder, `..`, an absolute
    path, or a destination that is a symlink is refused before anything is written.
    """
    bundle_path, out_dir = os.fspath(bundle_path), os.fspath(out_dir)
    c = read_bundle(bundle_path, key)
    model = decode_container(c)
    name = _safe_name(c.manifest.model.file or f"{c.manifest.name}.{c.manifest.model.format}", bundle_path)
    if name == "manifest.json":
        raise BundleError(bundle_path, "manifest", "model file name collides with manifest.json")
    os.makedirs(out_dir, exist_ok=True)
    root = os.path.realpath(out_dir)
    written = []
    for fname, blob in ((name, model), ("manifest.json", json.dumps(c.manifest.to_dict(), indent=2).encode() + b"\n")):
        target = os.path.join(out_dir, fname)
        if os.path.islink(target) or os.path.dirname(os.path.realpath(target)) != root:
            raise BundleError(bundle_path, "unpack", f"{target} is a symlink or leaves {out_dir}; refused")
        write_bytes_atomic(target, blob)
        written.append(target)
    return written

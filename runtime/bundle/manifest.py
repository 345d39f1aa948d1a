"""The bundle's manifest: what the JSON holds, as records (docs/bundle.md, "Manifest").

Reading a manifest through these records checks every field's type; `check_layout()` then checks
that the sizes agree with each other, before any of them is used to allocate memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from ..records import Record
from ..spec import TensorSpec

FORMAT = "edgewise-bundle"
MEMBER_CODINGS = ("none", "zlib")
LAYOUTS = ("raw", "planes", "dense", "mask", "gaps")
STREAM_CODINGS = ("raw", "rans", "const", "deflate")
WIDTHS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Member(Record):
    """A stretch of the payload: the graph (model without its weights) or the coded weights."""

    name: str
    offset: int  # from the start of the payload
    size: int  # stored bytes
    sha256: str  # of the stored bytes
    coding: str = "none"  # "none" or "zlib" (RFC 1950)
    decoded_size: int = 0


@dataclass(frozen=True)
class Stream(Record):
    """A sequence of `count` symbols in [0, alphabet), stored at weights[offset:offset+size]."""

    role: str  # "bytes", "plane0".."plane7", "indices", "mask", "gaps", "values"
    coding: str  # "raw" (u8 per symbol, u16 LE if alphabet > 256), "rans", "const" (every symbol = value)
    offset: int
    size: int
    count: int
    alphabet: int
    value: int = 0  # the symbol of a "const" stream


@dataclass(frozen=True)
class TensorEntry(Record):
    """One weight tensor: `nbytes` bytes at `offset` of the decoded model, coded as `layout`."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    offset: int  # in the decoded model
    nbytes: int
    width: int  # bytes per element: codebook entries and planes are little-endian words of this width
    layout: str
    streams: Tuple[Stream, ...]
    codebook_offset: int = 0  # in the weights member; `codebook_size` entries of `width` bytes
    codebook_size: int = 0
    fill: int = 0  # codebook index of the value "mask"/"gaps" leave out (the most frequent: zero)
    gap_escape: int = 0  # the gap symbol meaning "E more positions, and continue"

    @property
    def elements(self) -> int:
        return self.nbytes // self.width


@dataclass(frozen=True)
class ModelInfo(Record):
    """The decoded model: its format and the SHA-256 it must have."""

    format: str  # "tflite" or "onnx"
    size: int
    sha256: str
    file: str = ""  # the source file's name, for people


@dataclass(frozen=True)
class Manifest(Record):
    format: str
    version: int
    name: str
    edgewise_version: str
    model: ModelInfo
    members: Tuple[Member, ...]
    tensors: Tuple[TensorEntry, ...]
    inputs: Tuple[TensorSpec, ...] = ()
    outputs: Tuple[TensorSpec, ...] = ()
    recipe: Optional[Dict[str, Any]] = None
    preprocessing: Optional[Dict[str, Any]] = None
    report: Optional[Dict[str, Any]] = None  # accuracy and sizes measured by the pipeline
    extra: Dict[str, Any] = field(default_factory=dict)

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)


def stream_roles(t: TensorEntry) -> Tuple[str, ...]:
    """The streams a layout needs, in order."""
    if t.layout == "raw":
        return ("bytes",)
    if t.layout == "planes":
        return tuple(f"plane{k}" for k in range(t.width))
    if t.layout == "dense":
        return ("indices",)
    return (t.layout, "values")  # "mask" or "gaps"

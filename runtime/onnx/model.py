"""The parsed ONNX model: plain immutable objects, independent of the protobuf wire format.

`edgewise inspect` reads these; the interpreter runs them. Tensors are decoded lazily (external
data is read from disk on first access), so parsing a model is cheap.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import numpy as np

Dim = Any  # int, str (symbolic) or None (unknown)


class LazyTensor:
    """A TensorProto whose size has been validated; `value()` decodes it (once) into NumPy."""

    __slots__ = ("name", "elem_type", "dims", "external", "_load", "_value")

    def __init__(self, name: str, elem_type: str, dims: Tuple[int, ...], load: Callable[[], np.ndarray], external: bool):
        self.name = name
        self.elem_type = elem_type
        self.dims = dims
        self.external = external
        self._load = load
        self._value: Optional[np.ndarray] = None

    def value(self) -> np.ndarray:
        if self._value is None:
            self._value = self._load()
        return self._value

    def __repr__(self) -> str:
        return f"<tensor {self.name!r} {self.elem_type}{list(self.dims)}{' external' if self.external else ''}>"


class TensorTable(Mapping):
    """name -> np.ndarray, decoding each tensor on first access."""

    def __init__(self, tensors: Dict[str, LazyTensor]):
        self._t = tensors

    def __getitem__(self, name: str) -> np.ndarray:
        return self._t[name].value()

    def __iter__(self) -> Iterator[str]:
        return iter(self._t)

    def __len__(self) -> int:
        return len(self._t)

    def info(self, name: str) -> LazyTensor:
        """The tensor's name, type and dims without decoding it."""
        return self._t[name]


@dataclass(frozen=True)
class SparseTensor:
    """A SparseTensorProto: `values` at `indices` (COO, [NNZ] linear or [NNZ, rank]) in a `dims` tensor."""

    values: LazyTensor
    indices: LazyTensor
    dims: Tuple[int, ...]

    def dense(self) -> np.ndarray:
        """The dense array; ValueError if an index falls outside `dims`."""
        values = self.values.value()
        idx = self.indices.value().astype(np.int64)
        size = int(np.prod(self.dims, dtype=np.int64)) if self.dims else 1
        if idx.ndim == 2:
            if idx.size and ((idx < 0).any() or (idx >= np.array(self.dims, np.int64)).any()):
                raise ValueError(f"sparse tensor {self.values.name!r}: an index is outside dims {list(self.dims)}")
            idx = np.ravel_multi_index(tuple(idx.T), self.dims) if idx.size else idx.reshape(-1)
        elif idx.size and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(f"sparse tensor {self.values.name!r}: an index is outside dims {list(self.dims)}")
        out = np.zeros(self.dims, values.dtype)
        out.reshape(-1)[idx] = values.reshape(-1)
        return out


@dataclass(frozen=True)
class TypeInfo:
    """A TypeProto. kind: "tensor", "sparse_tensor", "sequence", "map", "optional", "opaque" or "" (unset).

    For tensors, `dtype` is an element type name and `shape` a tuple of dims (None: rank unknown).
    """

    kind: str
    dtype: Optional[str] = None
    shape: Optional[Tuple[Dim, ...]] = None
    elem: Optional["TypeInfo"] = None


@dataclass(frozen=True)
class ValueInfo:
    name: str
    type: TypeInfo

    @property
    def dtype(self) -> Optional[str]:
        return self.type.dtype

    @property
    def shape(self) -> Optional[Tuple[Dim, ...]]:
        return self.type.shape


@dataclass(frozen=True)
class Node:
    op_type: str
    domain: str
    name: str
    inputs: Tuple[str, ...]
    outputs: Tuple[str, ...]
    attributes: Dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How errors name this node: its name, else its first output."""
        return self.name or (self.outputs[0] if self.outputs else self.op_type)


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: Tuple[Node, ...]
    inputs: Tuple[ValueInfo, ...]
    outputs: Tuple[ValueInfo, ...]
    value_info: Tuple[ValueInfo, ...]
    initializers: TensorTable
    sparse_initializers: Dict[str, SparseTensor]


@dataclass(frozen=True)
class OnnxModel:
    source: str
    ir_version: int
    opset_imports: Dict[str, int]  # domain ("" is ai.onnx) -> version
    producer_name: str
    producer_version: str
    domain: str
    model_version: int
    doc_string: str
    graph: Graph
    metadata: Dict[str, str]
    functions: Tuple[Tuple[str, str], ...]  # (domain, name) of model-local functions

    @property
    def inputs(self) -> Tuple[ValueInfo, ...]:
        """Graph inputs that are fed at run time (initializers excluded)."""
        inits = self.graph.initializers
        return tuple(v for v in self.graph.inputs if v.name not in inits)

    @property
    def outputs(self) -> Tuple[ValueInfo, ...]:
        return self.graph.outputs

    @property
    def initializers(self) -> TensorTable:
        return self.graph.initializers

    @property
    def nodes(self) -> Tuple[Node, ...]:
        return self.graph.nodes

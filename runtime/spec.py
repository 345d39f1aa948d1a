"""Typed descriptions of a model's input and output tensors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np

from .records import Record

Dim = Union[int, str, None]  # a fixed size, a symbolic name ("batch"), or unknown


@dataclass(frozen=True)
class Quantization(Record):
    """Affine quantization: real = scale * (q - zero_point).

    One scale and zero point per tensor, or one per slice along `axis` (per-channel).
    """

    scale: Tuple[float, ...]
    zero_point: Tuple[int, ...]
    axis: Optional[int] = None

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1



@dataclass(frozen=True)
class TensorSpec(Record):
    """Name, shape (with dynamic dimensions as None or a symbol), dtype and quantization."""

    name: str
    shape: Tuple[Dim, ...]
    dtype: str  # a NumPy dtype name: "float32", "int8", "uint8", "int32", "int64", ...
    quantization: Optional[Quantization] = None

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def is_quantized(self) -> bool:
        return self.quantization is not None and np.dtype(self.dtype).kind in "iu"

    @property
    def scale(self) -> Optional[float]:
        """The per-tensor scale, or None (not quantized, or per-channel)."""
        q = self.quantization
        return q.scale[0] if q is not None and len(q.scale) == 1 else None

    @property
    def zero_point(self) -> Optional[int]:
        q = self.quantization
        return q.zero_point[0] if q is not None and len(q.zero_point) == 1 else None

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        text = f"{self.name} ({dims}) {self.dtype}"
        q = self.quantization
        if q is not None and q.per_channel:
            text += f" per-channel scales ({len(q.scale)}, axis {q.axis})"
        elif q is not None:
            text += f" scale {q.scale[0]:.6g} zero point {q.zero_point[0]}"
        return text

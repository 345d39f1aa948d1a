"""Host side of the `.ewb` bundle: `pack()` a model into one entropy-coded file, `unpack()` it.

The device side (reading, checking, decoding) is `edgewise.runtime.bundle`; the format is
specified in docs/bundle.md.
"""
from .pack import PackResult, TensorRecord, pack, unpack

__all__ = ["pack", "unpack", "PackResult", "TensorRecord"]

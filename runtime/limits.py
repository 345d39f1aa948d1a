"""How large a tensor a model file may make the runtime allocate.

A model file is a few bytes of structure that can describe arbitrarily large computations: one
stride of -2**31 in a CONV_2D made the interpreter ask NumPy for 256 GiB. Every tensor the graph
computes (and every scratch buffer a kernel needs, such as a convolution's im2col matrix) is
therefore checked, at load, against two bounds:

  - the model's own bound: MODEL_FACTOR times the largest tensor the file itself justifies (a
    graph input at its declared shape, or a constant stored in the file), and at least
    MODEL_FLOOR; a network's activations rarely exceed a few hundred times its input or its
    largest weight, and 16 GiB-from-a-4-KiB-file is the signature of a damaged file;
  - the user's ceiling: `load(..., max_tensor_bytes=N)`, else the environment variable
    EDGEWISE_MAX_TENSOR_BYTES, else DEFAULT_CEILING (1 GiB).

At run time, shapes that follow from the inputs (a larger batch) are checked against the ceiling
alone: the caller's arrays justify the rest.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from .errors import InputError, ModelFormatError

ENV_CEILING = "EDGEWISE_MAX_TENSOR_BYTES"
DEFAULT_CEILING = 1 << 30
MODEL_FACTOR = 256
MODEL_FLOOR = 64 << 20


def fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


def resolve_ceiling(max_tensor_bytes: Optional[int] = None) -> int:
    """The user's ceiling: the argument, else $EDGEWISE_MAX_TENSOR_BYTES, else 1 GiB."""
    if max_tensor_bytes is None:
        env = os.environ.get(ENV_CEILING, "").strip()
        if not env:
            return DEFAULT_CEILING
        try:
            max_tensor_bytes = int(env)
        except ValueError:
            raise ValueError(f"{ENV_CEILING}={env!r} is not a whole number of bytes") from None
        what = ENV_CEILING
    else:
        what = "max_tensor_bytes"
    if isinstance(max_tensor_bytes, bool) or not isinstance(max_tensor_bytes, int) or max_tensor_bytes <= 0:
        raise ValueError(f"{what} must be a positive number of bytes, got {max_tensor_bytes!r}")
    return max_tensor_bytes


@dataclass(frozen=True)
class TensorLimits:
    """`limit` applies at load (the smaller of the two bounds), `ceiling` at run time."""

    ceiling: int
    model_bound: int

    @classmethod
    def for_model(cls, largest_justified: int, max_tensor_bytes: Optional[int] = None) -> "TensorLimits":
        return cls(resolve_ceiling(max_tensor_bytes), max(MODEL_FLOOR, MODEL_FACTOR * int(largest_justified)))

    @property
    def limit(self) -> int:
        return min(self.ceiling, self.model_bound)

    def explain(self, at_run: bool) -> str:
        ceiling = f"the ceiling of {fmt_bytes(self.ceiling)} (max_tensor_bytes / {ENV_CEILING})"
        if at_run or self.ceiling <= self.model_bound:
            return ceiling
        return (f"the model's bound of {fmt_bytes(self.model_bound)} ({MODEL_FACTOR} x its largest input or "
                f"weight; {ceiling} is higher)")

    def check(self, source: str, nbytes: int, blame: str, at_run: bool = False) -> None:
        """Raise ModelFormatError (at load) or InputError (at run time: the inputs' shapes are at fault)
        naming `blame` if `nbytes` is over the bound."""
        bound = self.ceiling if at_run else self.limit
        if nbytes <= bound:
            return
        detail = f"{blame} needs {fmt_bytes(nbytes)}, over {self.explain(at_run)}"
        if at_run:
            raise InputError(f"{source}: with these input shapes, {detail}")
        raise ModelFormatError(source, detail)

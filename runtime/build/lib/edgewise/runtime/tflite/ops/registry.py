"""The op registry: builtin op name -> kernel builder.

A builder takes an `OpContext` (the node, its tensors' static metadata and constant values) once, at
interpreter construction, checks the variant is supported (else `ctx.unsupported(...)`), precomputes what
does not depend on the inputs (weight layouts, requantization multipliers, lookup tables) and returns the
function run at every invoke: `run(list of input arrays, None for omitted inputs) -> list of outputs`.
"""
from __future__ import annotations

from typing import Callable, Dict

KERNELS: Dict[str, Callable] = {}


def register(*names: str):
    """Class decorator-free registration: `@register("CONV_2D")` above a builder function."""

    def deco(builder):
        for name in names:
            if name in KERNELS:
                raise RuntimeError(f"op {name} registered twice")
            KERNELS[name] = builder
        return builder

    return deco

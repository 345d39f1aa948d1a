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


# Ops that only the interpreter's graph passes create (tflite/passes/), never a file: kept apart so
# that KERNELS names exactly the TFLite builtins a file can hold.
FUSED_KERNELS: Dict[str, Callable] = {}


def register_fused(name: str):
    """`@register_fused("EDGEWISE_INT8_TABLE")` above the builder of a pass-made op."""

    def deco(builder):
        if name in FUSED_KERNELS or name in KERNELS:
            raise RuntimeError(f"op {name} registered twice")
        FUSED_KERNELS[name] = builder
        return builder

    return deco

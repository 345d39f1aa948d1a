"""DENSIFY (densify.cc): the dense value of a sparse constant, computed once at construction."""
from __future__ import annotations

from .registry import register


@register("DENSIFY")
def build_densify(ctx):
    value = ctx.const(0)
    if value is None:
        raise ctx.unsupported("input is not a constant tensor")
    return lambda ins: [value]

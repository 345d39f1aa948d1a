"""What the TFLite and ONNX shape rules share: the error a rule raises, the rule registry, the
context's reporting methods, and the checks both formats' ops make (axes, broadcasting).

Each format keeps its own rules and its own context (what a rule may read differs: TFLite options
and tensor indices, ONNX attributes with the spec's defaults); see tflite/shapes.py, onnx/shapes.py.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

Shape = Tuple[int, ...]
MAX_WINDOW = 1 << 16  # strides, dilations, filter/kernel and block sizes: positive and at most this


class ShapeError(Exception):
    """An op inconsistent with its inputs; `slot` is the input index at fault (None: the op itself)."""

    def __init__(self, detail: str, slot: Optional[int] = None):
        super().__init__(detail)
        self.detail = detail
        self.slot = slot


class RuleContext:
    """Base of a format's rule context: failures that name the input slot, and scratch buffers
    (beyond the outputs) the kernel will allocate, counted against the size limits."""

    scratches: List[Tuple[str, int]]

    def fail(self, detail: str, slot: Optional[int] = None) -> ShapeError:
        return ShapeError(detail, slot)

    def scratch(self, what: str, shape: Sequence[int]) -> None:
        self.scratches.append((what, math.prod(int(d) for d in shape)))


def registry() -> Tuple[Dict[str, Callable], Callable]:
    """A rule table and its decorator: `@rule("CONV_2D", ...)` files a rule under each op name."""
    rules: Dict[str, Callable] = {}

    def rule(*names: str):
        def deco(fn):
            for n in names:
                rules[n] = fn
            return fn

        return deco

    return rules, rule


def axis_in(c: RuleContext, axis: int, rank: int, what: str = "axis", slot: Optional[int] = None) -> int:
    if not -rank <= int(axis) < rank:
        raise c.fail(f"{what} {axis} is out of range for rank {rank}", slot)
    return int(axis) % rank


def broadcast(c: RuleContext, shapes: Sequence[Shape], slot: Optional[int] = None) -> Shape:
    """NumPy-style multidirectional broadcasting (ONNX Broadcasting.md, TFLite's BroadcastTo rules);
    `slot` is blamed on failure."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = {s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise c.fail(f"shapes {', '.join(str(tuple(s)) for s in shapes)} do not broadcast", slot)
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def values_key(values) -> Optional[tuple]:
    """A hashable key of a rule's known input values (None when none is known), for caching rules."""
    if not values or all(v is None for v in values):
        return None
    return tuple(None if v is None else (str(np.asarray(v).dtype), np.asarray(v).tobytes()) for v in values)

"""Shape-only ops: RESHAPE, SQUEEZE, EXPAND_DIMS, SHAPE (reshape.cc, squeeze.cc, expand_dims.cc, shape.cc).

Quantized tensors keep their bytes: these ops never touch values.
"""
from __future__ import annotations

import numpy as np

from .registry import register


def resolve_shape(new_shape, size: int):
    """TFLite RESHAPE: at most one -1, inferred from the element count."""
    new_shape = [int(d) for d in new_shape]
    if new_shape.count(-1) == 1:
        known = int(np.prod([d for d in new_shape if d != -1], dtype=np.int64))
        new_shape[new_shape.index(-1)] = size // known if known else 0
    return tuple(new_shape)


@register("RESHAPE")
def build_reshape(ctx):
    static = ctx.options.get("new_shape")
    has_shape_input = ctx.has_input(1)
    out_shape = ctx.outputs[0].shape

    last = [None, -1, None]  # shape array, element count, resolved shape: reused while they repeat

    def run(ins):
        x = ins[0]
        arg = ins[1] if has_shape_input else None
        if arg is not None and arg is last[0] and x.size == last[1]:
            return [x.reshape(last[2])]
        if arg is not None and arg.ndim == 1 and not (arg.size == 1 and arg[0] == 0 and x.size != 0):
            shape = arg
        elif static is not None:
            shape = static
        else:
            shape = out_shape
        resolved = resolve_shape(shape, x.size)
        if arg is not None and not arg.flags.writeable:
            # a read-only shape array is a plan constant (the same object every call)
            last[:] = [arg, x.size, resolved]
        return [x.reshape(resolved)]

    return run


@register("SQUEEZE")
def build_squeeze(ctx):
    dims = ctx.options.get("squeeze_dims") or ()

    def run(ins):
        x = ins[0]
        axes = tuple(d % x.ndim for d in dims) if dims else tuple(i for i, s in enumerate(x.shape) if s == 1)
        return [np.squeeze(x, axis=axes)]

    return run


@register("EXPAND_DIMS")
def build_expand_dims(ctx):
    def run(ins):
        x, axis = ins[0], int(np.asarray(ins[1]).reshape(-1)[0])
        if axis < 0:
            axis += x.ndim + 1
        return [np.expand_dims(x, axis)]

    return run


@register("SHAPE")
def build_shape(ctx):
    out = ctx.out_dtype(0)
    if out not in ("int32", "int64"):
        raise ctx.unsupported(f"output dtype {out}")
    return lambda ins: [np.array(ins[0].shape, dtype=out)]

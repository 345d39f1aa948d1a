"""Every NumPy TFLite kernel, registered by builtin op name in `KERNELS`.

Importing a module registers its ops; this is the one place that lists the modules.
"""
from . import (  # noqa: F401  (imported for registration)
    activations,
    batch_matmul,
    binary,
    conv,
    densify,
    depthwise_conv,
    div,
    fully_connected,
    join_split,
    layer_norm,
    misc,
    pad,
    pooling,
    quantize,
    reduce,
    reshape,
    resize,
    rsqrt,
    slicing,
    softmax,
    space_batch,
    table,
    transpose_conv,
)
from .registry import FUSED_KERNELS, KERNELS, register, register_fused

__all__ = ["FUSED_KERNELS", "KERNELS", "register", "register_fused"]

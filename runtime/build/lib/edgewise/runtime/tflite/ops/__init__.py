"""Every NumPy TFLite kernel, registered by builtin op name in `KERNELS`.

Importing a module registers its ops; this is the one place that lists the modules.
"""
from . import (  # noqa: F401  (imported for registration)
    activations,
    binary,
    conv,
    depthwise_conv,
    fully_connected,
    join_split,
    pad,
    pooling,
    quantize,
    reduce,
    reshape,
    slicing,
    softmax,
    space_batch,
)
from .registry import KERNELS, register

__all__ = ["KERNELS", "register"]

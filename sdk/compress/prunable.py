"""Which weights of which layers may be pruned: a table, looked up by layer class name.

Biases, normalisation statistics and embeddings are left dense: they are few and pruning them
costs accuracy for no size gain. A layer class missing here is simply not pruned (and reported
as such), so a custom layer never gets a mask by accident.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from .select import leaf_layers

PRUNABLE_WEIGHTS: Dict[str, Tuple[str, ...]] = {
    "Dense": ("kernel",),
    "EinsumDense": ("kernel",),
    "Conv1D": ("kernel",),
    "Conv2D": ("kernel",),
    "Conv3D": ("kernel",),
    "Conv1DTranspose": ("kernel",),
    "Conv2DTranspose": ("kernel",),
    "Conv3DTranspose": ("kernel",),
    "DepthwiseConv1D": ("kernel",),
    "DepthwiseConv2D": ("kernel",),
    "SeparableConv1D": ("depthwise_kernel", "pointwise_kernel"),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel"),
}
# Keras 3 names the DepthwiseConv* weight `kernel` (Keras 2 and tfmot said `depthwise_kernel`).


def prunable_weights(model, table: Dict[str, Tuple[str, ...]] = PRUNABLE_WEIGHTS) -> List[Tuple[str, str, object]]:
    """(layer name, weight attribute, Keras variable) for every prunable weight of `model`."""
    found = []
    for layer in leaf_layers(model):
        for attr in table.get(type(layer).__name__, ()):
            var = getattr(layer, attr, None)
            if var is None:
                raise ValueError(
                    f"layer {layer.name!r} ({type(layer).__name__}) has no weight {attr!r}; the prunable-weights "
                    "table does not match this Keras version"
                )
            found.append((layer.name, attr, var))
    return found

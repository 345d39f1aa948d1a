"""Counting exact zeros: per weight tensor and overall, for Keras models and deployed files alike."""
from __future__ import annotations

import numpy as np

# The records live with the converters, which report the zeros in written files; re-exported here.
from edgewise.converters.sparsity import SparsitySummary, TensorSparsity  # noqa: F401 (re-exported)


def keras_sparsity(model) -> SparsitySummary:
    """Zeros in every prunable weight of a Keras model (see `prunable.PRUNABLE_WEIGHTS`)."""
    from .prunable import prunable_weights

    return SparsitySummary.of_arrays(
        (f"{layer}/{attr}", np.asarray(var.numpy())) for layer, attr, var in prunable_weights(model)
    )

"""Post-training pruning and clustering of ONNX initializers (needs the `onnx` package)."""
from .initializers import (cluster, initializer_arrays, matmul_weight_names, prune_magnitude, prune_structured,
                           weight_initializers)

__all__ = ["cluster", "initializer_arrays", "matmul_weight_names", "prune_magnitude", "prune_structured",
           "weight_initializers"]

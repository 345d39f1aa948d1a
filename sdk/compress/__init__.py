"""Model compression on the host: magnitude pruning with fine-tuning (Keras 3)."""
from .prunable import PRUNABLE_WEIGHTS, prunable_weights
from .prune import MagnitudePruner, PruneConfig, PruneResult, magnitude_mask, prune, strip
from .schedule import ConstantSparsity, PolynomialDecay, schedule_from_dict
from .sparsity import SparsitySummary, TensorSparsity, keras_sparsity

__all__ = [
    "PRUNABLE_WEIGHTS", "prunable_weights", "MagnitudePruner", "PruneConfig", "PruneResult", "magnitude_mask",
    "prune", "strip", "ConstantSparsity", "PolynomialDecay", "schedule_from_dict", "SparsitySummary",
    "TensorSparsity", "keras_sparsity",
]

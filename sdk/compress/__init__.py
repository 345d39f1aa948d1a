"""Model compression on the host (Keras 3): one fine-tuning loop, one sub-package per technique.

See sdk/compress/README.md for the API the recipes build on.
"""
from .prunable import PRUNABLE_WEIGHTS, prunable_weights
from .prune import MagnitudePruner, PruneConfig, PruneResult, magnitude_mask, plain_copy, prune, strip
from .schedule import ConstantSparsity, PolynomialDecay, schedule_from_dict
from .sparsity import SparsitySummary, TensorSparsity, keras_sparsity
from .train import Constraint, FineTuneConfig, FineTuneResult, TrainingHistory, fine_tune

__all__ = [
    "PRUNABLE_WEIGHTS", "prunable_weights", "MagnitudePruner", "PruneConfig", "PruneResult", "magnitude_mask",
    "plain_copy", "prune", "strip", "ConstantSparsity", "PolynomialDecay", "schedule_from_dict", "SparsitySummary",
    "TensorSparsity", "keras_sparsity", "Constraint", "FineTuneConfig", "FineTuneResult", "TrainingHistory",
    "fine_tune",
]

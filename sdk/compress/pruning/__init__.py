"""Pruning: magnitude (unstructured, scheduled), N:M and block patterns, and filter removal."""
from .filters import (FilterPruneConfig, FilterPruneResult, RemovedFilters, choose_filters, filter_scores,
                      prune_filters, remove_filters)
from .groups import blockers, channel_groups
from .magnitude import KeepZeros, MagnitudeConfig, MagnitudePruning, magnitude_mask
from .structured import StructuredConfig, StructuredPruning, block_mask, nm_mask, structured_masks

__all__ = ["channel_groups", "FilterPruneConfig", "FilterPruneResult", "RemovedFilters", "blockers", "choose_filters",
           "filter_scores", "prune_filters", "remove_filters", "KeepZeros", "MagnitudeConfig", "MagnitudePruning",
           "magnitude_mask", "StructuredConfig", "StructuredPruning", "block_mask", "nm_mask", "structured_masks"]

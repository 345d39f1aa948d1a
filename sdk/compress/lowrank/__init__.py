"""Low-rank factorization of Dense and Conv kernels (truncated SVD, spatial split, Tucker-2)."""
from .factorize import FactorizedLayer, LowRankConfig, LowRankResult, energy_rank, factorize

__all__ = ["FactorizedLayer", "LowRankConfig", "LowRankResult", "energy_rank", "factorize"]

"""k-bit weights (2-8 bits), uniform or clustered, on the float weights before export."""
from .quantize import KBitConfig, KBitProjection, LayerBits, cluster_codes, uniform_codes, uniform_quantize

__all__ = ["KBitConfig", "KBitProjection", "LayerBits", "cluster_codes", "uniform_codes", "uniform_quantize"]

"""Weight clustering (parameter sharing): k-means per layer or per channel, kept through fine-tuning."""
from .kmeans import INITS, assign, init_centroids, kmeans_1d
from .sharing import ClusterConfig, ClusterSharing, cluster_tensor

__all__ = ["INITS", "assign", "init_centroids", "kmeans_1d", "ClusterConfig", "ClusterSharing", "cluster_tensor"]

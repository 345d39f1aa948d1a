"""Clustering: k-means in one dimension, sharing kept through fine-tuning, <= k values in the exported files."""
import numpy as np
import pytest

from edgewise.compress.clustering import ClusterConfig, ClusterSharing, cluster_tensor, kmeans_1d
from edgewise.compress.measure import distinct_values
from edgewise.compress.prunable import prunable_weights
from edgewise.compress.train import FineTuneConfig, fine_tune

from .models import accuracy, export

pytestmark = pytest.mark.host


@pytest.mark.parametrize("init", ["linear", "density", "kmeans++"])
def test_kmeans_finds_well_separated_clusters(init):
    rng = np.random.default_rng(0)
    centres = np.array([-3.0, -1.0, 0.5, 2.0])
    values = np.concatenate([c + 0.01 * rng.normal(size=200) for c in centres])
    c, idx = kmeans_1d(values, 4, init, seed=1)
    assert np.allclose(np.sort(c), centres, atol=0.01)
    assert all(np.unique(idx[i * 200:(i + 1) * 200]).size == 1 for i in range(4))
    # every value sits on its nearest centroid
    assert np.all(np.abs(values - c[idx]) <= np.abs(values[:, None] - c[None, :]).min(axis=1) + 1e-12)
    pinned, _ = kmeans_1d(values, 4, init, seed=1, pinned=(-3.5, 2.5))
    assert pinned[0] == -3.5 and pinned[1] == 2.5


def test_initialisations_differ_as_documented():
    values = np.concatenate([np.zeros(990), np.linspace(5, 10, 10)])
    lin, _ = kmeans_1d(values, 3, "linear", iterations=0)
    dens, _ = kmeans_1d(values, 3, "density", iterations=0)
    assert lin.max() == 10.0 and np.allclose(lin, [0, 5, 10])
    assert np.allclose(dens[:2], 0.0)  # quantiles sit where the weights are


def test_scaled_codebook_pins_every_channel_maximum():
    w = np.random.default_rng(0).normal(size=(30, 5)) * np.array([0.1, 1.0, 3.0, 0.5, 2.0])
    c = cluster_tensor(w, ClusterConfig(6))
    v = c.values()
    assert np.allclose(np.abs(v).max(axis=0), np.abs(w).max(axis=0), rtol=1e-6)
    assert {float(x) for x in c.codebook[:2]} == {-1.0, 1.0} and np.unique(np.round(v / c.scale, 5)).size <= 6
    moved = c.update(w * 1.5, clip=True)  # an optimizer step past the channel maximum is clipped back
    assert np.abs(moved.codebook).max() <= 1.0 and np.array_equal(moved.codebook[:2], c.codebook[:2])


def test_sharing_survives_fine_tuning_and_int8_keeps_k_values_per_tensor(mlp, digits, tmp_path):
    cfg = ClusterConfig(8, "linear")
    tuned = fine_tune(mlp, digits.train, FineTuneConfig(epochs=3, learning_rate=3e-4), [ClusterSharing(cfg)],
                      seed=0).model
    for name, _, var in prunable_weights(tuned):
        w = var.numpy()
        assert max(np.unique(w[:, c]).size for c in range(w.shape[1])) <= 8, name
    assert accuracy(tuned) >= accuracy(mlp) - 0.03
    for t in distinct_values(export(tuned, tmp_path / "q.tflite", "int8")):
        assert t.distinct <= 8, t


def test_plain_codebook_keeps_k_values_per_tensor_in_the_float_file(mlp, digits, tmp_path):
    cfg = ClusterConfig(8, "density", channel_scales=False)
    tuned = fine_tune(mlp, digits.train, FineTuneConfig(epochs=1, learning_rate=3e-4), [ClusterSharing(cfg)],
                      seed=0).model
    for t in distinct_values(export(tuned, tmp_path / "f.tflite", "float32")):
        assert t.distinct <= 8, t


def test_per_channel_clusters_in_the_int8_file(cnn, digits, tmp_path):
    cfg = ClusterConfig(4, "kmeans++", per_channel=True, include=("conv2", "fc"))
    tuned = fine_tune(cnn, digits.train, FineTuneConfig(epochs=1, learning_rate=3e-4), [ClusterSharing(cfg)],
                      seed=0).model
    found = {t.shape: t for t in distinct_values(export(tuned, tmp_path / "q.tflite", "int8"))}
    assert found[(16, 3, 3, 8)].max_per_channel <= 4 and found[(32, 256)].max_per_channel <= 4
    assert found[(10, 32)].max_per_channel > 4  # not selected


@pytest.mark.slow
def test_pruning_then_clustering_keeps_the_zeros(mlp, digits, tmp_path):
    """Deep Compression's order: prune, then cluster with a centroid pinned at 0; k-bit keeps them too."""
    from edgewise.compress.kbit import KBitConfig, KBitProjection
    from edgewise.compress.pruning import KeepZeros, MagnitudeConfig, MagnitudePruning
    from edgewise.converters.weights import file_sparsity

    ft = FineTuneConfig(epochs=2, learning_rate=3e-4)
    pruned = fine_tune(mlp, digits.train, ft, [MagnitudePruning(MagnitudeConfig(0.8))], seed=0).model
    clustered = fine_tune(pruned, digits.train, ft, [ClusterSharing(ClusterConfig(16)), KeepZeros()], seed=0).model
    path = export(clustered, tmp_path / "pc.tflite", "int8")
    assert file_sparsity(path).overall >= 0.8 - 1e-3
    assert all(t.distinct <= 16 for t in distinct_values(path))
    assert accuracy(clustered) >= accuracy(mlp) - 0.04
    quantized = fine_tune(pruned, digits.train, ft, [KBitProjection(KBitConfig(3))], seed=0).model
    for (_, _, before), (_, _, after) in zip(prunable_weights(pruned), prunable_weights(quantized)):
        assert np.all(after.numpy()[before.numpy() == 0] == 0)

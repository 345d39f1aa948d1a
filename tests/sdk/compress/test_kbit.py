"""k-bit weights: at most 2^k values per tensor in the int8 file, codes and per-layer bits recorded."""
import numpy as np
import pytest

from edgewise.compress.kbit import KBitConfig, KBitProjection, cluster_codes, uniform_codes, uniform_quantize
from edgewise.compress.measure import distinct_values
from edgewise.compress.train import FineTuneConfig, fine_tune

from .models import accuracy, export

pytestmark = pytest.mark.host


@pytest.mark.parametrize("bits", [2, 3, 5, 8])
def test_uniform_grid(bits):
    w = np.random.default_rng(bits).normal(size=(20, 6)).astype(np.float32)
    codes, scale = uniform_codes(w, bits, per_channel=True)
    qmax = 2 ** (bits - 1) - 1
    assert codes.min() >= -qmax and codes.max() <= qmax and scale.shape == (6,)
    assert (np.abs(codes).max(axis=0) == qmax).all()  # each channel's largest weight is on the grid's end
    q = uniform_quantize(w, bits, per_channel=True)
    assert np.abs(q - w).max(axis=0).max() <= (scale / 2 + 1e-6).max()


@pytest.mark.parametrize("per_channel", [True, False])
def test_cluster_codes_rebuild_the_weights(per_channel):
    w = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    idx, book, scale = cluster_codes(w, 3, per_channel=per_channel)
    assert idx.max() < 8 and book.shape == ((4, 8) if per_channel else (1, 8))
    assert scale.shape == ((1,) if per_channel else (4,))
    rebuilt = (np.take_along_axis(book.T, idx.astype(np.int64), axis=0) if per_channel else book[0][idx]) * scale
    assert np.abs(rebuilt - w).max() < np.abs(w).max() / 4


@pytest.mark.parametrize("bits, method", [(4, "uniform"), (3, "clustered")])
def test_int8_file_holds_at_most_2_to_the_k_values(mlp, digits, tmp_path, bits, method):
    proj = KBitProjection(KBitConfig(bits, method, per_channel=method == "uniform", layer_bits={"out": 6}))
    tuned = fine_tune(mlp, digits.train, FineTuneConfig(epochs=2, learning_rate=3e-4), [proj], seed=0).model
    assert accuracy(tuned) >= accuracy(mlp) - 0.03
    recorded = {b.layer: b.bits for b in proj.layer_bits()}
    assert recorded == {"fc1": bits, "fc2": bits, "out": 6}
    path = export(tuned, tmp_path / "q.tflite", "int8")
    by_rows = {t.shape[0]: t for t in distinct_values(path)}
    for rows, layer in ((128, "fc1"), (64, "fc2"), (10, "out")):
        limit = 2 ** recorded[layer]
        assert by_rows[rows].distinct <= limit, by_rows[rows]

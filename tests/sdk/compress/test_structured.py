"""N:M and block pruning: the runtime's own pattern analysis recognises them in the exported file."""
import numpy as np
import pytest

from edgewise.compress.measure import structures
from edgewise.compress.pruning import StructuredConfig, StructuredPruning, block_mask, nm_mask
from edgewise.compress.train import FineTuneConfig, fine_tune

from .models import accuracy, export

pytestmark = pytest.mark.host


def test_nm_mask_keeps_the_n_largest_of_each_group():
    w = np.random.default_rng(0).normal(size=(6, 16))
    mask = nm_mask(w, 2, 8)
    groups = (w * mask).reshape(6, 2, 8)
    assert ((groups != 0).sum(axis=-1) == 2).all()
    kept_min = np.where(mask.reshape(6, 2, 8) == 1, np.abs(w).reshape(6, 2, 8), np.inf).min(axis=-1)
    dropped_max = np.where(mask.reshape(6, 2, 8) == 0, np.abs(w).reshape(6, 2, 8), -np.inf).max(axis=-1)
    assert (kept_min >= dropped_max).all()


def test_block_mask_drops_whole_blocks_of_least_norm():
    w = np.ones((8, 8))
    w[4:, :4] = 0.1
    mask = block_mask(w, 4, 4, 0.25)
    assert (mask[4:, :4] == 0).all() and mask.sum() == 48


@pytest.mark.parametrize("cfg, label", [
    (StructuredConfig("nm", 2, 4, exclude=("conv1",)), (2, 4)),
    (StructuredConfig("nm", 1, 8, exclude=("conv1",)), (1, 8)),
])
def test_nm_pattern_in_the_int8_file(cnn, digits, tmp_path, cfg, label):
    pruned = fine_tune(cnn, digits.train, FineTuneConfig(epochs=2), [StructuredPruning(cfg)], seed=0).model
    found = structures(export(pruned, tmp_path / "nm.tflite"))
    nm = [s for s in found.values() if s.nm is not None]
    assert len(nm) == 3, {k: s.label for k, s in found.items()}  # conv2, fc, out; conv1 excluded
    assert all(s.nm == label for s in nm)
    if label == (2, 4):
        assert accuracy(pruned) >= accuracy(cnn) - 0.03


def test_block_pattern_in_the_int8_file(cnn, digits, tmp_path):
    cfg = StructuredConfig("block", block=(4, 4), sparsity=0.5, include=("fc",))
    pruned = fine_tune(cnn, digits.train, FineTuneConfig(epochs=1), [StructuredPruning(cfg)], seed=0).model
    found = structures(export(pruned, tmp_path / "block.tflite"))
    blocked = [s for s in found.values() if s.block is not None]
    assert len(blocked) == 1 and blocked[0].shape == (32, 256)
    bh, bw = blocked[0].block
    assert bh % 4 == 0 and bw % 4 == 0 and blocked[0].density <= 0.5


def test_a_layer_whose_inputs_do_not_divide_is_named(cnn, digits):
    with pytest.raises(ValueError, match="'conv1'.*2:4.*StructuredConfig.exclude"):
        fine_tune(cnn, digits.train, FineTuneConfig(epochs=1), [StructuredPruning(StructuredConfig())])

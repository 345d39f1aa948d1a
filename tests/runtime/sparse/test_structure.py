"""The zero pattern of a weight matrix is recognised from the weights alone."""
from __future__ import annotations

import numpy as np
import pytest

from edgewise.runtime.sparse import Structure, analyze
from edgewise.runtime.sparse.structure import block_mask, group_counts

from ._weights import blocks, n_of_m, unstructured


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_two_of_four_is_detected_as_nm(rng):
    s = analyze(n_of_m(rng, (64, 128), 2, 4))
    assert s.nm == (2, 4) and s.label == "2:4"
    assert s.density == pytest.approx(0.5)


def test_one_of_eight_is_detected_as_nm(rng):
    assert analyze(n_of_m(rng, (32, 64), 1, 8)).nm == (1, 8)


@pytest.mark.parametrize("bh,bw", [(4, 4), (16, 1), (1, 4), (8, 8)])
def test_block_pattern_is_detected_with_its_block_size(rng, bh, bw):
    s = analyze(blocks(rng, (128, 256), bh, bw, 0.8))
    assert s.block == (bh, bw) and s.label == f"block {bh}x{bw}"
    assert s.nm is None
    assert s.block_fill == 1.0


def test_zeros_inside_kept_blocks_still_count_as_blocks(rng):
    w = blocks(rng, (128, 128), 4, 4, 0.8)
    w[rng.random(w.shape) < 0.1] = 0  # values that quantize to zero inside kept blocks
    s = analyze(w)
    assert s.block == (4, 4) and 0.8 < s.block_fill < 1.0


def test_random_sparsity_has_no_structure(rng):
    s = analyze(unstructured(rng, (256, 256), 0.9))
    assert s.label == "unstructured" and s.nm is None and s.block is None
    assert s.density == pytest.approx(0.1, abs=0.01)


def test_nearly_dense_matrix_is_not_called_blocked(rng):
    assert analyze(unstructured(rng, (64, 64), 0.1)).block is None


def test_all_zero_and_dense_matrices():
    z = analyze(np.zeros((8, 16), np.float32))
    assert z.nnz == 0 and z.density == 0.0
    d = analyze(np.ones((8, 16), np.int8))
    assert d.label == "dense" and d.density == 1.0


def test_block_mask_and_group_counts_match_direct_reductions(rng):
    mask = unstructured(rng, (64, 128), 0.8) != 0
    for bh, bw in [(1, 2), (2, 1), (4, 4), (16, 1), (1, 16), (8, 8)]:
        direct = mask.reshape(64 // bh, bh, 128 // bw, bw).any(axis=(1, 3))
        np.testing.assert_array_equal(block_mask(mask, bh, bw), direct)
    for m in (4, 8, 16):
        np.testing.assert_array_equal(group_counts(mask, m), mask.reshape(64, 128 // m, m).sum(axis=2))


def test_structure_round_trips_through_dict(rng):
    s = analyze(blocks(rng, (32, 32), 4, 4, 0.75))
    assert Structure.from_dict(s.to_dict()) == s


def test_rejects_non_matrix():
    with pytest.raises(ValueError, match="2-D"):
        analyze(np.zeros((2, 3, 4)))

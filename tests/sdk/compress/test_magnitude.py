"""Magnitude pruning on the shared loop: zeros in the int8 file, per-layer targets, layer patterns."""
import numpy as np
import pytest

from edgewise.compress.pruning import MagnitudeConfig, MagnitudePruning
from edgewise.compress.train import FineTuneConfig, fine_tune
from edgewise.converters.weights import file_sparsity

from .models import accuracy, export

pytestmark = pytest.mark.host


def test_zeros_reach_the_int8_file_per_layer_and_accuracy_holds(mlp, digits, tmp_path):
    cfg = MagnitudeConfig(0.8, layer_targets={"out": 0.5})
    pruned = fine_tune(mlp, digits.train, FineTuneConfig(epochs=4), [MagnitudePruning(cfg)], seed=0).model
    sp = file_sparsity(export(pruned, tmp_path / "m.tflite"))
    assert len(sp.tensors) == 3
    for t in sp.tensors:  # int8 may round a few more weights to 0, never fewer
        target = 0.5 if t.total == 640 else 0.8
        assert target - 0.002 <= t.sparsity <= target + 0.02, t
    assert accuracy(pruned) >= accuracy(mlp) - 0.03


def test_include_exclude_and_one_shot(mlp, digits):
    cfg = MagnitudeConfig(0.6, include=("fc*",), exclude=("fc2",))
    pruned = fine_tune(mlp, digits.train, FineTuneConfig(epochs=0), [MagnitudePruning(cfg)]).model
    zeros = {layer.name: float(np.mean(layer.kernel.numpy() == 0))
             for layer in pruned.layers if hasattr(layer, "kernel")}
    assert zeros["fc1"] == pytest.approx(0.6, abs=1e-3) and zeros["fc2"] == 0.0 and zeros["out"] == 0.0


@pytest.mark.parametrize("cfg, field", [
    (MagnitudeConfig(0.5, include=("conv*",)), "MagnitudeConfig.include: pattern 'conv*'"),
    (MagnitudeConfig(0.5, exclude=("fc9",)), "MagnitudeConfig.exclude: pattern 'fc9'"),
    (MagnitudeConfig(0.5, layer_targets={"dense": 0.1}), "MagnitudeConfig.layer_targets: pattern 'dense'"),
])
def test_a_pattern_that_matches_nothing_is_refused_before_training(mlp, digits, cfg, field):
    with pytest.raises(ValueError) as e:
        fine_tune(mlp, digits.train, FineTuneConfig(epochs=1), [MagnitudePruning(cfg)])
    assert field in str(e.value)

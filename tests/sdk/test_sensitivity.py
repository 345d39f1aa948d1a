"""Sensitivity analysis: per-layer probes on a real model, and network-wide per-layer targets from them."""
import numpy as np
import pytest

from edgewise.sensitivity import SensitivityEntry, SensitivityTable


def _table():
    # "big" tolerates pruning, "small" does not; "mid" is in between
    drops = {"big": (0.0, 0.1, 0.3, 1.0), "mid": (0.2, 1.0, 3.0, 8.0), "small": (1.0, 5.0, 20.0, 40.0)}
    entries = tuple(SensitivityEntry(layer, "prune", s, 0.9, d) for layer, ds in drops.items()
                    for s, d in zip((0.5, 0.75, 0.9, 0.95), ds))
    return SensitivityTable(0.95, 100, entries, {"big": 10000, "mid": 2000, "small": 500})


@pytest.mark.parametrize("target", [0.3, 0.6, 0.8, 0.9])
def test_layer_targets_remove_the_target_where_it_costs_least(target):
    t = _table()
    targets = t.layer_targets(target)
    total = sum(t.parameters.values())
    removed = sum(t.parameters[l] * s for l, s in targets.items())
    assert removed == pytest.approx(target * total, rel=1e-3)
    assert targets["big"] >= targets["mid"] >= targets["small"]
    assert all(0.0 <= s <= 0.95 for s in targets.values())


def test_layer_targets_beyond_the_probes_are_refused():
    with pytest.raises(ValueError, match="beyond the largest probed level"):
        _table().layer_targets(0.97)


def test_ranking_and_round_trip():
    t = _table()
    assert [l for l, _ in t.ranking()] == ["big", "mid", "small"]
    assert SensitivityTable.from_dict(t.to_dict()) == t


@pytest.mark.host
def test_analyze_probes_each_layer_alone_and_restores_the_model(tiny_mlp, flat_digits):
    from edgewise.evaluate import keras_accuracy
    from edgewise.sensitivity import analyze

    before = [w.copy() for w in tiny_mlp.get_weights()]
    lines = []
    t = analyze(tiny_mlp, flat_digits.train, settings={"prune": (0.5, 0.99), "cluster": (2,), "lowrank": (0.1,),
                                                       "quantize": (2,)}, progress=lines.append, max_samples=400)
    assert all((a == b).all() for a, b in zip(before, tiny_mlp.get_weights()))
    assert t.parameters == {"hidden": 64 * 32, "classes": 32 * 10} and t.samples == 400
    assert len(t.entries) == 2 * 5 and lines == ["sensitivity of hidden (2048 weights)",
                                                 "sensitivity of classes (320 weights)"]
    assert t.baseline_accuracy == pytest.approx(keras_accuracy(tiny_mlp, flat_digits.train.take(400)))
    for layer in t.parameters:  # removing 99% of a layer costs more than removing half of it
        assert t.drop(layer, "prune", 0.99) > t.drop(layer, "prune", 0.5)
        assert t.drop(layer, "prune", 0.99) > 5.0
    # a probe's figure is the accuracy of the model with that one kernel changed
    hidden = tiny_mlp.get_layer("hidden")
    w = hidden.kernel.numpy()
    keep = w.size - round(0.99 * w.size)  # the 20 largest |w| of 2048 survive
    kept = np.zeros(w.size, bool)
    kept[np.argpartition(-np.abs(w).ravel(), keep)[:keep]] = True
    hidden.kernel.assign(np.where(kept.reshape(w.shape), w, 0.0))
    try:
        acc = keras_accuracy(tiny_mlp, flat_digits.train.take(400))
    finally:
        hidden.kernel.assign(w)
    assert next(e for e in t.entries if e.layer == "hidden" and e.setting == 0.99).accuracy == pytest.approx(acc)

"""Filter pruning removes filters physically: smaller shapes in the file, same outputs when the removed
filters contributed nothing, dependent layers (BN, depthwise, concat, flatten) re-indexed, merges refused."""
import numpy as np
import pytest

from edgewise.compress.measure import weight_count, weight_shapes
from edgewise.compress.pruning import FilterPruneConfig, blockers, channel_groups, filter_scores, prune_filters
from edgewise.compress.train import FineTuneConfig, fine_tune

from .models import accuracy, export

pytestmark = pytest.mark.host


def silence(model, layer, filters):
    """Zero the kernel and bias of `filters`, so they output exactly 0 (before ReLU)."""
    w = [a.copy() for a in model.get_layer(layer).get_weights()]
    w[0][..., filters] = 0.0
    w[1][filters] = 0.0
    model.get_layer(layer).set_weights(w)


def test_removing_silent_filters_keeps_outputs_and_shrinks_the_file(cnn, digits, tmp_path):
    from edgewise.compress.train import plain_copy

    model = plain_copy(cnn)
    silence(model, "conv1", [1, 3, 6])
    silence(model, "conv2", [0, 5, 9, 10])
    silence(model, "fc", list(range(0, 32, 4)))
    cfg = FilterPruneConfig(0.0, {"conv1": 3 / 8, "conv2": 4 / 16, "fc": 8 / 32})
    result = prune_filters(model, cfg)
    removed = {r.layer: r.removed for r in result.layers}
    assert removed == {"conv1": (1, 3, 6), "conv2": (0, 5, 9, 10), "fc": tuple(range(0, 32, 4)), "out": ()}
    x = digits.heldout.x
    np.testing.assert_allclose(result.model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    before = export(model, tmp_path / "a.tflite", "float32")
    after = export(result.model, tmp_path / "b.tflite", "float32")
    shapes = sorted(weight_shapes(after).values())
    assert shapes == sorted([(5, 3, 3, 1), (12, 3, 3, 5), (24, 192), (10, 24)])
    assert weight_count(after) < 0.75 * weight_count(before)


def test_l1_pruning_then_fine_tuning_keeps_accuracy(cnn, digits):
    result = prune_filters(cnn, FilterPruneConfig(0.5))
    assert [r.filters_after for r in result.layers] == [4, 8, 16, 10]
    tuned = fine_tune(result.model, digits.train, FineTuneConfig(epochs=3), seed=0).model
    assert accuracy(tuned) >= accuracy(cnn) - 0.03
    assert tuned.count_params() < 0.3 * cnn.count_params()


def test_sensitivity_ranks_a_silent_filter_harmless(cnn, digits):
    from edgewise.compress.train import plain_copy

    model = plain_copy(cnn)
    silence(model, "conv2", [7])
    scores = filter_scores(model, "conv2", "sensitivity", digits.calibration)
    assert scores[7] == pytest.approx(0.0, abs=1e-6) and np.count_nonzero(np.abs(scores) > 1e-4) >= 14
    chosen = prune_filters(model, FilterPruneConfig(0.0, {"conv2": 1 / 16}, "sensitivity"), data=digits.calibration)
    (removed,) = [r.removed for r in chosen.layers if r.layer == "conv2"]
    assert removed == (int(np.argmin(scores)),)

    def loss(m):  # what removal costs, measured on the pruned model itself
        import keras

        fn = keras.losses.SparseCategoricalCrossentropy()
        return float(fn(digits.calibration.y, m.predict(digits.calibration.x, verbose=0)))

    assert loss(chosen.model) - loss(model) == pytest.approx(scores[removed[0]], abs=1e-4)
    with pytest.raises(ValueError, match="needs data"):
        prune_filters(model, FilterPruneConfig(0.5, criterion="sensitivity"))


def branchy():
    """conv -> BN -> ReLU -> depthwise -> two 1x1 branches concatenated -> conv -> residual add -> GAP -> dense."""
    import keras

    keras.utils.set_random_seed(7)
    L = keras.layers
    i = keras.Input((8, 8, 1))
    x = L.ReLU(name="r1")(L.BatchNormalization(name="bn1")(L.Conv2D(8, 3, padding="same", name="c1")(i)))
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)
    a = L.Conv2D(6, 1, activation="relu", name="pa")(x)
    b = L.Conv2D(5, 1, activation="relu", name="pb")(x)
    c = L.Conv2D(8, 3, padding="same", name="c2")(L.Concatenate(name="cat")([a, b]))
    d = L.Conv2D(8, 3, padding="same", name="c3")(c)
    out = L.Dense(10, name="out")(L.GlobalAveragePooling2D(name="gap")(L.Add(name="add")([c, d])))
    model = keras.Model(i, out, name="branchy")
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn1")
    bn.set_weights([rng.uniform(0.5, 2, 8), rng.normal(size=8), rng.normal(size=8), rng.uniform(0.5, 2, 8)])
    dw = model.get_layer("dw")
    dw.set_weights([dw.get_weights()[0], rng.normal(size=16).astype(np.float32)])
    return model


def test_dependent_layers_are_reindexed_and_residual_adds_pruned_together():
    model = branchy()
    groups, why = channel_groups(model)
    assert ("c2", "c3") in groups and "output" in why["out"] and not set(why) & {"c1", "pa", "pb", "c2", "c3"}
    silence(model, "c1", [2, 5])  # make removal exact: BN maps channel 2 and 5 to 0, depthwise adds no bias
    bn = model.get_layer("bn1")
    g, beta, mean, var = bn.get_weights()
    beta[[2, 5]], mean[[2, 5]] = 0.0, 0.0
    bn.set_weights([g, beta, mean, var])
    k, bias = model.get_layer("dw").get_weights()
    bias[[4, 5, 10, 11]] = 0.0
    model.get_layer("dw").set_weights([k, bias])
    silence(model, "pb", [0, 3])
    silence(model, "c2", [1, 6])  # both branches of the residual add silent on channels 1 and 6
    silence(model, "c3", [1, 6])
    result = prune_filters(model, FilterPruneConfig(0.0, {"c1": 0.25, "pb": 0.4, "c*": 0.25}))
    assert {r.layer: r.removed for r in result.layers} == {
        "c1": (2, 5), "pa": (), "pb": (0, 3), "c2": (1, 6), "c3": (1, 6), "out": ()}
    new = result.model
    assert new.get_layer("bn1").get_weights()[0].shape == (6,)
    assert new.get_layer("dw").get_weights()[0].shape == (3, 3, 6, 2)
    assert new.get_layer("pa").get_weights()[0].shape == (1, 1, 12, 6)
    assert new.get_layer("c2").get_weights()[0].shape == (3, 3, 9, 6)
    assert new.get_layer("c3").get_weights()[0].shape == (3, 3, 6, 6)
    assert new.get_layer("out").get_weights()[0].shape == (6, 10)
    x = np.random.default_rng(1).uniform(size=(16, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(new.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)


def test_a_merge_with_an_unprunable_input_is_refused_with_the_reason():
    import keras

    L = keras.layers
    i = keras.Input((8, 8, 4))
    c = L.Conv2D(4, 3, padding="same", name="c")(i)
    out = L.Dense(3, name="out")(L.GlobalAveragePooling2D(name="gap")(L.Add(name="add")([i, c])))
    model = keras.Model(i, out)
    assert "Add 'add'" in blockers(model)["c"]
    with pytest.raises(ValueError, match="'c'.*Add 'add'"):
        prune_filters(model, FilterPruneConfig(0.5, include=("c",)))
    partial = prune_filters(branchy(), FilterPruneConfig(0.5, exclude=("c3",)))
    assert [r.reason for r in partial.layers if r.layer == "c2"] == [
        "shares its channels with 'c3' through an element-wise merge, which is not selected"]

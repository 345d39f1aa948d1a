"""Magnitude pruning: exact mask sizes, target sparsity reached, zeros exact after fine-tuning."""
import numpy as np
import pytest

from edgewise.compress import (
    PRUNABLE_WEIGHTS, ConstantSparsity, MagnitudePruner, PruneConfig, keras_sparsity, magnitude_mask,
    prunable_weights, strip,
)

from .trained import TARGET_SPARSITY

pytestmark = pytest.mark.host


def test_magnitude_mask_zeros_exactly_the_smallest():
    w = np.random.default_rng(0).normal(size=(7, 11)).astype(np.float32)
    mask = magnitude_mask(w, 0.6)
    k = round(0.6 * w.size)
    assert mask.shape == w.shape and int((mask == 0).sum()) == k
    kept, dropped = np.abs(w[mask == 1]), np.abs(w[mask == 0])
    assert dropped.max() <= kept.min()


def test_magnitude_mask_extremes():
    w = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    assert magnitude_mask(w, 0.0).all()
    assert (magnitude_mask(w, 0.5).ravel() == np.array([0] * 6 + [1] * 6)).all()


def test_pruning_reaches_target_per_layer_and_zeros_are_exact(pruned):
    sp = pruned.sparsity
    assert len(sp.tensors) == 4
    for t in sp.tensors:  # each tensor is pruned to round(s * size) zeros, so within one element
        assert abs(t.zeros - round(TARGET_SPARSITY * t.total)) <= 1, t
    assert sp.overall == pytest.approx(TARGET_SPARSITY, abs=1e-3)
    # recount from the model itself, not from the summary
    for layer, attr, var in prunable_weights(pruned.model):
        w = var.numpy()
        assert np.count_nonzero(w == 0.0) / w.size == pytest.approx(TARGET_SPARSITY, abs=1e-2), (layer, attr)


def test_pruned_model_keeps_accuracy(pruned, trained_model, digits):
    from edgewise.evaluate import keras_accuracy

    base = keras_accuracy(trained_model, digits.heldout)
    after = keras_accuracy(pruned.model, digits.heldout)
    assert base > 0.9
    assert after > base - 0.05, (base, after)


def test_original_model_is_untouched(pruned, trained_model):
    assert keras_sparsity(trained_model).overall < 0.01


def test_masks_hold_through_fine_tuning(digits, trained_model):
    """Masks fixed once (ConstantSparsity, one update at step 0) must keep the same zeros after a whole epoch."""
    import keras

    model = keras.models.clone_model(trained_model)
    model.set_weights(trained_model.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    pruner = MagnitudePruner(model, ConstantSparsity(0.5, begin_step=0, end_step=0, frequency=1))
    seen = []

    class Check(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pruner.on_batch_end()
            seen.append([np.flatnonzero(v.numpy().ravel() == 0.0) for _, _, v in pruner.weights])

    model.fit(digits.train.x[:320], digits.train.y[:320], batch_size=32, epochs=1, verbose=0, callbacks=[Check()])
    assert len(seen) == 10
    for batch in seen[1:]:  # a high learning rate moves every weight, the mask moves them back
        for first, now in zip(seen[0], batch):
            assert np.array_equal(first, now)
    plain = strip(model, pruner.masks)
    for (_, _, v), mask in zip(prunable_weights(plain), pruner.masks):
        assert np.all(v.numpy()[mask == 0] == 0.0)


def test_prunable_table_is_data_and_covers_keras3_layers():
    import keras

    L = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 3)), L.DepthwiseConv2D(3), L.SeparableConv2D(4, 3), L.BatchNormalization(),
        L.Conv2D(2, 1), L.Flatten(), L.Dense(3),
    ])
    found = [(type_name, attr) for type_name, attr in
             ((type(model.get_layer(n)).__name__, a) for n, a, _ in prunable_weights(model))]
    assert found == [("DepthwiseConv2D", "kernel"), ("SeparableConv2D", "depthwise_kernel"),
                     ("SeparableConv2D", "pointwise_kernel"), ("Conv2D", "kernel"), ("Dense", "kernel")]
    only_dense = prunable_weights(model, {"Dense": ("kernel",)})
    assert [attr for _, attr, _ in only_dense] == ["kernel"] and "BatchNormalization" not in PRUNABLE_WEIGHTS


def test_config_round_trip_and_schedule():
    cfg = PruneConfig(0.7, epochs=2, schedule=ConstantSparsity(0.7, 0, -1, 3))
    assert PruneConfig.from_dict(cfg.to_dict()) == cfg
    default = PruneConfig(0.8, ramp_fraction=0.5)
    sched = default.schedule_for(100)
    assert sched(sched.end_step)[1] == pytest.approx(0.8) and sched.end_step == 49
    with pytest.raises(ValueError):
        PruneConfig(1.2)


def test_prune_config_layer_rules_reach_the_model(digits, trained_model):
    """PruneConfig's per-layer targets and exclusions go through the shared loop to the right layers."""
    from edgewise.compress import prune

    cfg = PruneConfig(0.5, epochs=1, layer_targets={"conv*": 0.7}, exclude=("classes",))
    result = prune(trained_model, digits.train.x[:256], digits.train.y[:256], cfg)
    by_layer = {t.name.split("/")[0]: t.sparsity for t in result.sparsity.tensors}
    assert by_layer["conv1"] == pytest.approx(0.7, abs=0.01) and by_layer["conv2"] == pytest.approx(0.7, abs=0.01)
    assert by_layer["dense"] == pytest.approx(0.5, abs=0.01) and by_layer["classes"] < 0.05
    assert result.history.epochs == 1 and result.steps == 8

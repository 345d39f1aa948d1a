"""Low-rank factorization: exact on low-rank kernels, factorised shapes in the file, only where smaller."""
import numpy as np
import pytest

from edgewise.compress.lowrank import LowRankConfig, energy_rank, factorize
from edgewise.compress.measure import weight_count, weight_shapes
from edgewise.compress.train import FineTuneConfig, fine_tune

from .models import accuracy

pytestmark = pytest.mark.host


def test_energy_rank():
    s = np.array([3.0, 2.0, 1.0, 0.0])
    assert energy_rank(s, 9 / 14) == 1 and energy_rank(s, 13 / 14) == 2 and energy_rank(s, 1.0) == 3


def low_rank_model():
    """Dense 48 -> 40 of rank 3, Conv 1x1 12 -> 16 of rank 2, Conv 3x3 of spatial rank 2 and Tucker ranks (3, 4)."""
    import keras

    rng = np.random.default_rng(0)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((6, 6, 4)),
        L.Conv2D(12, 3, padding="same", activation="relu", name="spatial"),
        L.Conv2D(16, 1, activation="relu", name="pointwise"),
        L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="tucker"),
        L.Flatten(name="flat"), L.Dense(40, activation="relu", name="dense"), L.Dense(5, name="out"),
    ])
    v, h = rng.normal(size=(3, 4, 2)), rng.normal(size=(2, 3, 12))  # K[a, b, i, o] = sum_r v[a, i, r] h[r, b, o]
    spatial = np.einsum("air,rbo->abio", v, h)
    pointwise = (rng.normal(size=(12, 2)) @ rng.normal(size=(2, 16)))[None, None]
    core = rng.normal(size=(3, 3, 3, 4))
    tucker = np.einsum("hwrs,ir,os->hwio", core, np.linalg.qr(rng.normal(size=(16, 3)))[0],
                       np.linalg.qr(rng.normal(size=(16, 4)))[0])
    dense = rng.normal(size=(144, 3)) @ rng.normal(size=(3, 40))
    for name, k in (("spatial", spatial), ("pointwise", pointwise), ("tucker", tucker), ("dense", dense)):
        layer = model.get_layer(name)
        layer.set_weights([k.astype(np.float32) / np.abs(k).max(), rng.normal(size=k.shape[-1]).astype(np.float32)])
    return model


@pytest.mark.parametrize("conv", ["spatial", "tucker2"])
def test_exact_on_low_rank_kernels_and_factorised_in_the_file(conv, tmp_path):
    model = low_rank_model()
    layer = "spatial" if conv == "spatial" else "tucker"
    config = LowRankConfig(energy=0.9999, conv=conv, include=("dense", "pointwise", layer))
    result = factorize(model, config)
    ranks = {f.layer: (f.kind, f.ranks) for f in result.layers}
    assert ranks["dense"] == ("svd", (3,)) and ranks["pointwise"] == ("svd", (2,))
    assert ranks[layer] == (("spatial", (2,)) if conv == "spatial" else ("tucker2", (3, 4)))
    x = np.random.default_rng(1).normal(size=(8, 6, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(result.model.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-3, atol=1e-3)
    calib = np.random.default_rng(2).normal(size=(16, 6, 6, 4)).astype(np.float32)
    from edgewise.converters.tflite import keras_to_tflite

    keras_to_tflite(result.model, tmp_path / "f.tflite", calib)
    keras_to_tflite(model, tmp_path / "o.tflite", calib)
    shapes = set(weight_shapes(tmp_path / "f.tflite").values())
    assert {(3, 144), (40, 3), (2, 1, 1, 12), (16, 1, 1, 2)} <= shapes
    factors = {(2, 3, 1, 4), (12, 1, 3, 2)} if conv == "spatial" else {(3, 1, 1, 16), (4, 3, 3, 3), (16, 1, 1, 4)}
    assert factors <= shapes
    assert weight_count(tmp_path / "f.tflite") < weight_count(tmp_path / "o.tflite")


def test_only_where_it_reduces_parameters(cnn):
    result = factorize(cnn, LowRankConfig(energy=1.0))
    assert all(f.kind == "kept" and "not fewer" in f.reason for f in result.layers)
    assert result.model.count_params() == cnn.count_params()


def test_budget_then_fine_tune_keeps_accuracy(mlp, digits):
    result = factorize(mlp, LowRankConfig(param_fraction=0.3, exclude=("out",)))
    for f in result.layers:
        if f.layer != "out":
            assert f.kind == "svd" and f.params_after <= 0.3 * f.params_before
    tuned = fine_tune(result.model, digits.train, FineTuneConfig(epochs=3), seed=0).model
    assert accuracy(tuned) >= accuracy(mlp) - 0.03
    assert tuned.count_params() < 0.5 * mlp.count_params()


def test_functional_graphs_are_factorised_in_place():
    from .test_filters import branchy

    model = branchy()
    result = factorize(model, LowRankConfig(param_fraction=0.5))
    saved = sum(f.params_before - f.params_after for f in result.layers)
    assert {f.kind for f in result.layers} == {"svd", "spatial"} and saved > 0
    assert model.count_params() - result.model.count_params() == saved  # biases and BN stay as they were
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    assert result.model.predict(x, verbose=0).shape == (4, 10)

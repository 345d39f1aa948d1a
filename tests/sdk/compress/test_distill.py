"""Distillation: Hinton et al.'s loss in its limits, derived students, a student that learns from a teacher."""
import numpy as np
import pytest

from edgewise.compress.distill import DistillConfig, StudentConfig, derive_student, distillation_loss, pack_targets
from edgewise.compress.train import FineTuneConfig, fine_tune

from .models import accuracy

pytestmark = pytest.mark.host


def probs(rng, n=32, k=10):
    z = rng.normal(size=(n, k)) * 2
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def test_loss_limits():
    import keras

    rng = np.random.default_rng(0)
    teacher, student = probs(rng), probs(rng)
    y = rng.integers(0, 10, size=32)
    hard = float(np.mean(keras.losses.sparse_categorical_crossentropy(y, student)))
    loss = lambda t, a: float(np.mean(distillation_loss(DistillConfig(t, a))(pack_targets(y, teacher, False), student)))
    assert loss(3.0, 0.0) == pytest.approx(hard, rel=1e-4)  # alpha 0: the labels only
    assert loss(1.0, 1.0) == pytest.approx(float(np.mean(keras.losses.kl_divergence(teacher, student))), rel=1e-3)
    same = distillation_loss(DistillConfig(4.0, 1.0))(pack_targets(y, student, False), student)
    assert float(np.max(np.abs(same))) < 1e-5  # a student equal to its teacher has nothing to learn


def test_derived_student_is_narrower_and_shallower():
    import keras

    L = keras.layers
    teacher = keras.Sequential([
        keras.Input((8, 8, 1)), L.Conv2D(8, 3, padding="same", name="conv1"),
        L.Conv2D(8, 3, padding="same", name="mid"), L.Conv2D(16, 3, name="conv2"), L.Flatten(name="flat"),
        L.Dense(32, name="fc"), L.Dense(10, name="out"),
    ])
    student = derive_student(teacher, StudentConfig(0.5, drop=("mid",)), seed=0)
    assert type(student.get_layer("mid")).__name__ == "Identity"
    assert [student.get_layer(n).output.shape[-1] for n in ("conv1", "mid", "conv2", "fc", "out")] == [4, 4, 8, 16, 10]
    with pytest.raises(ValueError, match="'conv2'.*shape-preserving"):
        derive_student(teacher, StudentConfig(0.5, drop=("conv2",)))
    with pytest.raises(ValueError, match="StudentConfig.drop: pattern 'block9'"):
        derive_student(teacher, StudentConfig(0.5, drop=("block9",)))


@pytest.mark.slow
def test_student_learns_from_the_teacher(cnn, digits):
    student = derive_student(cnn, StudentConfig(0.5), seed=0)
    result = fine_tune(student, digits.train, FineTuneConfig(epochs=8, learning_rate=3e-3), teacher=cnn,
                       distill=DistillConfig(4.0, 0.7), seed=0)
    assert accuracy(result.model) >= accuracy(cnn) - 0.05
    assert result.model.count_params() < 0.35 * cnn.count_params()
    assert len(result.history.accuracy) == 8


def test_distillation_as_the_loss_of_a_pruning_step(mlp, digits):
    """Teacher = the model before the step: pruning fine-tunes against its soft targets, masks still exact."""
    from edgewise.compress.pruning import MagnitudeConfig, MagnitudePruning

    pruning = MagnitudePruning(MagnitudeConfig(0.85))
    result = fine_tune(mlp, digits.train, FineTuneConfig(epochs=3), [pruning], teacher=mlp,
                       distill=DistillConfig(3.0, 0.5), seed=0)
    for layer in ("fc1", "fc2", "out"):
        w = result.model.get_layer(layer).kernel.numpy()
        assert np.mean(w == 0) == pytest.approx(0.85, abs=2e-3), layer
    assert accuracy(result.model) >= accuracy(mlp) - 0.03
    assert len(result.history.accuracy) == 3  # accuracy on the hard labels packed with the soft targets

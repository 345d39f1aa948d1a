"""The shared fine-tuning loop: copies, seeds, constraints' hooks, interruption, one-shot mode."""
import numpy as np
import pytest

from edgewise.compress.train import Constraint, FineTuneConfig, fine_tune

from .models import accuracy, build_mlp

pytestmark = pytest.mark.host


class Recorder(Constraint):
    def __init__(self, stop_at=None):
        self.begun, self.steps, self.stripped, self.stop_at = None, [], 0, stop_at

    def on_begin(self, model, total_steps):
        self.begun = total_steps

    def after_batch(self, model, step):
        if step == self.stop_at:
            raise KeyboardInterrupt
        self.steps.append(step)

    def strip(self, model):
        self.stripped += 1
        return model


def test_trains_a_copy_calls_every_hook_and_reaches_accuracy(digits):
    model = build_mlp()
    before = [w.copy() for w in model.get_weights()]
    rec = Recorder()
    lines = []
    cfg = FineTuneConfig(epochs=3, batch_size=64, learning_rate=3e-3, validation_fraction=0.1)
    result = fine_tune(model, digits.train, cfg, [rec], progress=lines.append, seed=1)
    steps_per_epoch = -(-round(len(digits.train) * 0.9) // 64)
    assert rec.begun == 3 * steps_per_epoch and rec.steps == list(range(rec.begun)) and rec.stripped == 1
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3")
    h = result.history
    assert h.steps == rec.begun and len(h.loss) == 3 and len(h.val_accuracy) == 3 and h.loss[-1] < h.loss[0]
    assert accuracy(result.model) > 0.85
    assert getattr(result.model, "optimizer", None) is None  # stripped: nothing of Adam is saved with it


def test_same_seed_same_weights(digits):
    cfg = FineTuneConfig(epochs=1, batch_size=128)
    a = fine_tune(build_mlp(), digits.train, cfg, seed=3).model.get_weights()
    b = fine_tune(build_mlp(), digits.train, cfg, seed=3).model.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_ctrl_c_propagates_and_leaves_the_model_alone(digits):
    model = build_mlp()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(KeyboardInterrupt):
        fine_tune(model, digits.train, FineTuneConfig(epochs=2), [Recorder(stop_at=5)])
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_zero_epochs_is_one_shot(digits):
    rec = Recorder()
    model = build_mlp()
    result = fine_tune(model, digits.train, FineTuneConfig(epochs=0), [rec])
    assert rec.begun == 0 and rec.steps == [] and rec.stripped == 1 and result.history.steps == 0
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), result.model.get_weights()))


def test_distillation_needs_teacher_and_config(digits):
    with pytest.raises(ValueError, match="teacher"):
        fine_tune(build_mlp(), digits.train, FineTuneConfig(epochs=1), teacher=build_mlp())

"""optimize() as a list of steps: every step measured in the report, the accuracy guard, Ctrl-C safety."""
import json
import os

import numpy as np
import pytest

from edgewise.pipeline import Settings, optimize
from edgewise.report import read_json
from edgewise.steps.runner import AccuracyGuardError

pytestmark = [pytest.mark.host, pytest.mark.slow]  # each trains and converts a small model (10-20 s)

FAST = Settings(formats=("tflite",), benchmark=False, max_accuracy_drop=None)


def _leftover_temp_files(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if ".tmp" in f]


def test_multi_step_recipe_reports_every_step(tmp_path, tiny_mlp, flat_digits):
    recipe = {"name": "three", "steps": [
        {"kind": "prune", "magnitude": {"target_sparsity": 0.5}, "fine_tune": {"epochs": 1}},
        {"kind": "cluster", "cluster": {"clusters": 8}, "fine_tune": {"epochs": 1}},
        {"kind": "quantize", "mode": "int8"},
    ]}
    out = tmp_path / "out"
    lines = []
    report = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, recipe, train=flat_digits.train,
                      out_dir=out, settings=FAST, progress=lines.append)
    assert [s.kind for s in report.steps] == ["prune", "cluster", "quantize"]
    assert [s.index for s in report.steps] == [1, 2, 3]
    prune, cluster, quant = report.steps
    assert prune.accuracy_before == report.baseline.accuracy
    assert cluster.accuracy_before == prune.accuracy and quant.accuracy_before == cluster.accuracy
    assert prune.sparsity == pytest.approx(0.5, abs=0.01)
    assert {l.name for l in cluster.layers} == {"hidden/kernel", "classes/kernel"}
    assert cluster.sparsity >= prune.sparsity - 0.01  # clustering keeps the pruned zeros
    import keras

    clustered = keras.saving.load_model(out / cluster.artifacts[0])
    for layer in ("hidden", "classes"):  # one codebook scaled per output channel: <= 8 values in each column
        k = clustered.get_layer(layer).kernel.numpy()
        assert max(np.unique(k[:, c]).size for c in range(k.shape[1])) <= 8, layer
    assert cluster.parameters == tiny_mlp.count_params()
    for s in (prune, cluster):  # a saved model per training step, its size as written; deployable: its bundle
        assert os.path.getsize(out / s.artifacts[0]) == s.size_bytes
        assert s.deployable_bytes == os.path.getsize(out / f"steps/0{s.index}-{s.kind}.ewb")
    assert quant.artifacts == ("model.int8.tflite", "steps/03-quantize.ewb")
    assert quant.size_bytes == os.path.getsize(out / "model.int8.tflite")
    assert quant.deployable_bytes == os.path.getsize(out / "steps/03-quantize.ewb") < quant.size_bytes
    int8 = next(a for a in report.artifacts if a.path == "model.int8.tflite")
    assert quant.accuracy == int8.accuracy and int8.source == "step 2 (cluster)"
    # the int8 file keeps the sharing: at most 8 distinct values in each kernel
    from edgewise.converters import read_weights

    kernels = read_weights(out / "model.int8.tflite")
    assert len(kernels) == 2 and all(np.unique(w).size <= 8 for _, w in kernels)
    assert any(line.startswith("step 2/3: cluster") for line in lines)
    stored = read_json(out / "report.json")
    assert stored == report and stored.recipe.name == "three"
    doc = json.loads((out / "report.json").read_text())
    assert doc["steps"][0]["kind"] == "prune" and "accuracy_drop" in doc["steps"][0]
    assert doc["recipe"]["steps"][1]["cluster"]["clusters"] == 8
    page = (out / "report.html").read_text()
    assert "cluster 8 values per layer" in page and "distinct values per layer" in page


def test_seed_makes_a_run_reproducible(tmp_path, tiny_mlp, flat_digits):
    recipe = {"steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.6}, "fine_tune": {"epochs": 1}}]}
    runs = [optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, recipe, train=flat_digits.train,
                     out_dir=tmp_path / name, settings=Settings(formats=("tflite",), benchmark=False, seed=7))
            for name in ("a", "b")]
    import keras

    a, b = (keras.saving.load_model(tmp_path / n / "steps" / "01-prune.keras") for n in ("a", "b"))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert runs[0].steps[0].accuracy == runs[1].steps[0].accuracy


def test_guard_fine_tunes_longer_then_stops_naming_the_step(tmp_path, tiny_mlp, flat_digits):
    recipe = {"steps": [
        {"kind": "prune", "magnitude": {"target_sparsity": 0.3}, "fine_tune": {"epochs": 1}},
        {"kind": "prune", "magnitude": {"target_sparsity": 0.99}, "fine_tune": {"epochs": 1, "learning_rate": 1e-5}},
        {"kind": "quantize"},
    ]}
    out = tmp_path / "out"
    lines = []
    with pytest.raises(AccuracyGuardError) as e:
        optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, recipe, train=flat_digits.train,
                 out_dir=out, settings=Settings(formats=("tflite",), benchmark=False, max_accuracy_drop=1.0),
                 progress=lines.append)
    msg = str(e.value)
    assert e.value.step == 2 and e.value.kind == "prune"
    assert e.value.before - e.value.after > 0.01
    assert f"{e.value.before:.2%}" in msg and f"{e.value.after:.2%}" in msg
    assert "recipe step 2 (prune" in msg and "up to 4 epochs" in msg and "Try: lower the sparsity" in msg
    assert [l for l in lines if "guard: again with" in l] == [
        "step 2/3: prune 99% (magnitude) (guard: again with 2 epochs)",
        "step 2/3: prune 99% (magnitude) (guard: again with 4 epochs)"]
    # the first step's model stays, the report says what happened, nothing of step 2 or 3 was written
    assert sorted(os.listdir(out / "steps")) == ["01-prune.ewb", "01-prune.int8.tflite", "01-prune.keras"]
    assert not (out / "model.int8.tflite").exists() and not _leftover_temp_files(out)
    report = read_json(out / "report.json")
    assert [s.kind for s in report.steps] == ["prune"] and "recipe step 2" in report.error


def test_a_post_training_step_that_breaks_its_bound_stops_at_once(tmp_path, tiny_mlp, flat_digits):
    from edgewise.data import Dataset

    recipe = {"steps": [{"kind": "quantize", "max_accuracy_drop": 0.5}]}
    calib = flat_digits.calibration.take(8)
    narrow = Dataset(calib.x * 0.05, calib.y, "narrow")  # activation ranges far narrower than the real inputs
    lines = []
    with pytest.raises(AccuracyGuardError) as e:
        optimize(tiny_mlp, narrow, flat_digits.heldout, recipe, out_dir=tmp_path, settings=FAST,
                 progress=lines.append)
    assert e.value.step == 1 and e.value.kind == "quantize" and e.value.bound == 0.5
    assert "post-training: no fine-tuning to extend" in str(e.value) and "calibration set" in str(e.value)
    assert not any("guard: again" in l for l in lines)


def test_ctrl_c_during_a_step_leaves_earlier_artifacts_intact(tmp_path, tiny_mlp, flat_digits):
    recipe = {"steps": [
        {"kind": "prune", "magnitude": {"target_sparsity": 0.5}, "fine_tune": {"epochs": 1}},
        {"kind": "cluster", "cluster": {"clusters": 4}, "fine_tune": {"epochs": 3}},
        {"kind": "quantize"},
    ]}
    out = tmp_path / "out"

    def interrupt(line: str) -> None:
        if line.startswith("  epoch 2/3"):  # inside step 2's fine-tuning
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, recipe, train=flat_digits.train,
                 out_dir=out, settings=FAST, progress=interrupt)
    assert sorted(os.listdir(out / "steps")) == ["01-prune.ewb", "01-prune.int8.tflite", "01-prune.keras"]
    assert not _leftover_temp_files(out) and not (out / "model.int8.tflite").exists()
    import keras

    first = keras.saving.load_model(out / "steps" / "01-prune.keras")
    kernels = [w for w in first.get_weights() if w.ndim == 2]
    assert np.mean(np.concatenate([k.ravel() for k in kernels]) == 0) == pytest.approx(0.5, abs=0.01)
    report = read_json(out / "report.json")  # written after step 1, complete and readable
    assert [s.kind for s in report.steps] == ["prune"]


def test_the_bundle_writer_gives_every_training_step_a_deployable_size(tmp_path, tiny_mlp, flat_digits):
    """The registered deployable writer: the step's model as int8 TFLite, packed as the .ewb bundle."""
    from edgewise.converters import keras_to_tflite
    from edgewise.runtime import load
    from edgewise.steps import runner
    from edgewise.steps.deploy import write_bundle

    assert runner.DEPLOYABLE_WRITERS == [write_bundle]
    recipe = {"steps": [{"kind": "prune_filters", "filters": {"fraction": 0.5}, "fine_tune": {"epochs": 1}}]}
    out = tmp_path / "out"
    report = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, recipe, train=flat_digits.train,
                      out_dir=out, settings=FAST)
    step = report.steps[0]
    assert step.artifacts == ("steps/01-prune_filters.keras", "steps/01-prune_filters.ewb")
    assert step.deployable_bytes == os.path.getsize(out / "steps" / "01-prune_filters.ewb")
    assert step.deployable_bytes < os.path.getsize(out / "steps" / "01-prune_filters.int8.tflite")
    x = flat_digits.heldout.x[:32]  # the bundle holds that int8 file, bit for bit
    run = lambda name: load(str(out / "steps" / name), backend="numpy").run(x, quantize=True)[0]  # noqa: E731
    assert np.array_equal(run("01-prune_filters.ewb"), run("01-prune_filters.int8.tflite"))
    assert step.parameters < tiny_mlp.count_params()  # 16 of 32 hidden units removed: a smaller file
    unpruned = keras_to_tflite(tiny_mlp, tmp_path / "unpruned.int8.tflite", flat_digits.calibration.x,
                               precision="int8")
    assert step.deployable_bytes < unpruned.size_bytes

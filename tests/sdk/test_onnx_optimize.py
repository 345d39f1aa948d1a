"""`edgewise optimize model.onnx`: post-training steps on the initializers, int8 through onnxruntime, the guard."""
import hashlib
import json

import numpy as np
import pytest

from edgewise.pipeline import Settings, optimize

pytestmark = pytest.mark.host
onnx = pytest.importorskip("onnx")

RECIPE = {"name": "onnx-small", "steps": [
    {"kind": "prune", "magnitude": {"target_sparsity": 0.5}},
    {"kind": "cluster", "cluster": {"clusters": 16}},
    {"kind": "quantize", "mode": "int8"},
]}


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def digits_onnx(tmp_path_factory, flat_digits):
    """A 64 -> 128 -> 10 MLP trained on the digits (~97% held-out), exported to ONNX by the converters."""
    import keras

    from edgewise.converters import keras_to_onnx

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,), name="pixels"),
                              keras.layers.Dense(128, activation="relu", name="hidden"),
                              keras.layers.Dense(10, activation="softmax", name="classes")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(flat_digits.train.x, flat_digits.train.y, batch_size=32, epochs=10, verbose=0)
    folder = tmp_path_factory.mktemp("onnx_in")
    path = folder / "mlp.onnx"
    keras_to_onnx(model, path, flat_digits.calibration.x)
    np.savez(folder / "calib.npz", x=flat_digits.calibration.x)
    np.savez(folder / "eval.npz", x=flat_digits.heldout.x, y=flat_digits.heldout.y)
    return path


def _weights(path):
    from edgewise.runtime.summary import weight_tensors

    return dict(weight_tensors(str(path)))


@pytest.mark.slow  # quantizes and evaluates every file on every backend (~15 s)
def test_cli_recipe_prunes_clusters_and_quantizes_an_onnx_model(tmp_path, digits_onnx):
    from edgewise.cli import main
    from edgewise.report import read_json

    before = _digest(digits_onnx)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(RECIPE))
    out = tmp_path / "out"
    code = main(["optimize", str(digits_onnx), "--recipe", str(recipe), "--calib", str(digits_onnx.parent / "calib.npz"),
                 "--eval", str(digits_onnx.parent / "eval.npz"), "--out", str(out), "--no-benchmark"])
    assert code == 0
    assert _digest(digits_onnx) == before  # the user's file is only read
    report = read_json(out / "report.json")
    assert [s.kind for s in report.steps] == ["prune", "cluster", "quantize"]
    assert report.baseline.path == str(digits_onnx) and report.baseline.accuracy > 0.9
    accuracy = report.baseline.accuracy
    for s in report.steps:  # every step measured through onnxruntime, each within the 1-point guard
        assert s.accuracy_before == accuracy and (accuracy - s.accuracy) * 100 <= 1.0 + 1e-9, s.name
        accuracy = s.accuracy
    assert report.steps[0].artifacts == ("steps/01-prune.onnx",)
    pruned = _weights(out / "steps/01-prune.onnx")
    assert len(pruned) == 2
    for name, w in pruned.items():  # half of each weight is zero in the written file
        assert np.mean(w == 0) == pytest.approx(0.5, abs=0.01), name
    int8 = _weights(out / "model.int8.onnx")
    assert len(int8) == 2
    for name, w in int8.items():  # the int8 file keeps both: <= 16 stored values, the zeros still zero
        assert w.dtype == np.int8, name
        assert np.unique(w).size <= 16 and np.mean(w == 0) >= 0.49, name
    artifact = {a.path: a for a in report.artifacts}
    assert set(artifact) == {"model.onnx", "model.int8.onnx"}
    assert artifact["model.int8.onnx"].verification["passed"]
    assert artifact["model.int8.onnx"].accuracy == report.steps[2].accuracy
    assert artifact["model.int8.onnx"].size_bytes < artifact["model.onnx"].size_bytes == digits_onnx.stat().st_size
    assert report.recipe.steps[2].formats == ("onnx",) and (out / "report.html").is_file()


@pytest.mark.parametrize("step, why", [
    ({"kind": "lowrank"}, "factorising layers"),
    ({"kind": "distill"}, "distillation trains"),
    ({"kind": "prune_filters"}, "removing filters"),
])
def test_a_training_step_is_refused_before_anything_is_written(tmp_path, digits_onnx, flat_digits, step, why):
    from edgewise.steps import RecipeError

    before = _digest(digits_onnx)
    recipe = {"steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.5}}, step,
                        {"kind": "quantize", "mode": "int8"}][: 2]}
    out = tmp_path / "out"
    with pytest.raises(RecipeError, match=rf"recipe step 2 \({step['kind']}\): cannot run on an ONNX model: {why}.*"
                                          r"no training for ONNX inputs"):
        optimize(str(digits_onnx), flat_digits.calibration, flat_digits.heldout, recipe, out_dir=out)
    assert not out.exists() and _digest(digits_onnx) == before


def test_onnx_input_refuses_what_it_cannot_do(tmp_path, digits_onnx, flat_digits):
    from edgewise.steps import RecipeError

    args = (str(digits_onnx), flat_digits.calibration, flat_digits.heldout)
    out = tmp_path / "out"
    with pytest.raises(RecipeError, match=r"recipe step 1 \(quantize\): field 'mode': .*int8.*'float16'"):
        optimize(*args, {"steps": [{"kind": "quantize", "mode": "float16"}]}, out_dir=out)
    with pytest.raises(RecipeError, match=r"recipe step 1 \(prune\).*'nothere' matches no layer"):
        optimize(*args, {"steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.5, "include": ["nothere"]}}]},
                 out_dir=out)
    with pytest.raises(ValueError, match="ONNX input runs post-training steps only; fine-tuning data"):
        optimize(*args, prune=0.5, train=flat_digits.train, out_dir=out)
    assert not out.exists()


def test_a_step_that_breaks_the_bound_stops_the_run_naming_it(tmp_path, digits_onnx, flat_digits):
    from edgewise.onnx_optimize import OnnxAccuracyGuardError
    from edgewise.report import read_json

    recipe = {"steps": [{"kind": "prune", "magnitude": {"target_sparsity": 0.3}},
                        {"kind": "prune", "magnitude": {"target_sparsity": 0.97}},
                        {"kind": "quantize", "mode": "int8"}]}
    out = tmp_path / "out"
    with pytest.raises(OnnxAccuracyGuardError) as e:
        optimize(str(digits_onnx), flat_digits.calibration, flat_digits.heldout, recipe, out_dir=out,
                 settings=Settings(benchmark=False, max_accuracy_drop=1.0))
    err = e.value
    assert err.step == 2 and err.kind == "prune" and err.before - err.after > 0.01
    assert "recipe step 2 (prune: prune 97% (magnitude))" in str(err) and "lower the sparsity" in str(err)
    assert f"{err.before:.2%}" in str(err) and f"{err.after:.2%}" in str(err)
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["01-prune.onnx"]  # step 1's file stays
    assert not (out / "model.int8.onnx").exists()
    report = read_json(out / "report.json")
    assert [s.index for s in report.steps] == [1] and "recipe step 2" in report.error


def test_nm_recipe_step_writes_the_pattern_into_the_onnx_file(tmp_path, digits_onnx, flat_digits):
    from edgewise.compress.measure import structures
    from edgewise.compress.onnx import matmul_weight_names

    out = tmp_path / "out"
    report = optimize(str(digits_onnx), flat_digits.calibration, flat_digits.heldout,
                      {"steps": [{"kind": "prune", "structured": {"kind": "nm", "n": 2, "m": 4}}]}, out_dir=out,
                      settings=Settings(benchmark=False, max_accuracy_drop=None))
    (step,) = report.steps
    written = out / step.artifacts[0]
    found = structures(written, matmul_weight_names(onnx.load(str(written))))
    assert len(found) == 2 and all(s.nm == (2, 4) for s in found.values()), found
    assert step.sparsity == pytest.approx(0.5) and step.accuracy is not None
    assert [a.path for a in report.artifacts] == ["model.onnx"]  # no quantize step: the compressed float model
    assert _weights(out / "model.onnx").keys() == _weights(written).keys()
    for name, w in _weights(out / "model.onnx").items():
        np.testing.assert_array_equal(w, _weights(written)[name])


@pytest.mark.slow  # onnx2tf: ~30 s
def test_to_tflite_converts_the_int8_result_through_onnx2tf_offline(tmp_path, digits_onnx):
    """`--to tflite` under `unshare -n` (no route): the TFLite file is written, verified, and nothing is fetched."""
    import os
    import subprocess
    import sys

    from edgewise.report import read_json
    from tests.converters.offline import require_netns

    pytest.importorskip("onnx2tf", reason="needs the onnx2tf extra: pip install 'edgewise[host,onnx2tf]'")
    require_netns()
    before = _digest(digits_onnx)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"steps": [RECIPE["steps"][0], RECIPE["steps"][2]]}))
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))  # onnxsim
    proc = subprocess.run(["unshare", "-n", sys.executable, "-m", "edgewise.cli", "optimize", str(digits_onnx),
                           "--recipe", str(recipe), "--calib", str(digits_onnx.parent / "calib.npz"),
                           "--eval", str(digits_onnx.parent / "eval.npz"), "--out", str(out), "--to", "tflite",
                           "--no-benchmark"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _digest(digits_onnx) == before
    report = read_json(out / "report.json")
    assert report.steps[1].artifacts == ("model.int8.onnx", "model.int8.tflite")
    tfl = next(a for a in report.artifacts if a.path == "model.int8.tflite")
    assert tfl.verification["passed"] and tfl.format == "tflite" and tfl.precision == "int8"
    assert abs(tfl.accuracy - report.steps[0].accuracy) * 100 <= 1.0 + 1e-9
    assert report.steps[1].deployable_bytes == tfl.size_bytes
    from edgewise.converters.weights import file_sparsity

    assert file_sparsity(out / "model.int8.tflite").overall >= 0.49  # the pruned zeros reach the TFLite file

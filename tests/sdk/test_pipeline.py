"""optimize() on files and in-memory models, the shorthand flags, and the full demo."""
import json
import os

import numpy as np
import pytest

from edgewise.data import Dataset, save_npz
from edgewise.pipeline import Settings, optimize
from edgewise.report import read_json, summary_table

pytestmark = pytest.mark.host


def test_optimize_keras_file_from_npz_files(tmp_path, trained_model, digits):
    model_path = tmp_path / "in" / "model.keras"
    model_path.parent.mkdir()
    trained_model.save(model_path)
    save_npz(tmp_path / "in" / "calib.npz", Dataset(digits.calibration.x))
    save_npz(tmp_path / "in" / "eval.npz", digits.heldout)
    out = tmp_path / "out"
    lines = []
    report = optimize(str(model_path), str(tmp_path / "in" / "calib.npz"), str(tmp_path / "in" / "eval.npz"),
                      prune=None, quantize="int8", out_dir=out, progress=lines.append,
                      settings=Settings(formats=("tflite",), include_float=False, benchmark=False))
    assert [a.path for a in report.artifacts] == ["model.int8.tflite", "model.ewb"]
    assert sorted(os.listdir(out)) == ["model.ewb", "model.int8.tflite", "report.html", "report.json", "steps"]
    assert report.bundle.download_bytes == os.path.getsize(out / "model.ewb")
    assert report.baseline.size_bytes == os.path.getsize(model_path)
    assert report.baseline.accuracy > 0.95 and report.artifacts[0].accuracy > 0.93
    assert report.artifacts[0].sparsity < 0.05  # not pruned
    assert [s.name for s in report.timings][:2] == ["load model", "baseline accuracy (Keras)"]
    assert [s.kind for s in report.steps] == ["quantize"]
    assert lines and lines[0] == "load model"
    assert read_json(out / "report.json") == report


def test_pruning_needs_labels_for_fine_tuning(tmp_path, trained_model, digits):
    from edgewise.data import DataError

    with pytest.raises(DataError, match="fine-tuning data"):
        optimize(trained_model, digits.calibration.x, digits.heldout, prune=0.5, out_dir=tmp_path)


def test_missing_onnx_input_is_named(tmp_path, digits):
    with pytest.raises(FileNotFoundError, match="model.onnx: no such ONNX model file"):
        optimize(str(tmp_path / "model.onnx"), digits.calibration, digits.heldout, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_arguments(tmp_path, trained_model, digits):
    with pytest.raises(ValueError, match="quantize"):
        optimize(trained_model, digits.calibration, digits.heldout, quantize="int4", out_dir=tmp_path)
    with pytest.raises(ValueError, match="prune"):
        optimize(trained_model, digits.calibration, digits.heldout, prune=1.5, out_dir=tmp_path)
    with pytest.raises(ValueError, match="either a recipe or the --prune/--quantize shorthand"):
        optimize(trained_model, digits.calibration, digits.heldout, {"steps": []}, prune=0.5, out_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown format"):
        Settings(formats=("tflite", "coreml"))


def test_demo_end_to_end(demo):
    out, report, lines = demo
    names = {a.path: a for a in report.artifacts}
    assert set(names) == {"model.tflite", "model.int8.tflite", "model.onnx", "model.int8.onnx", "model.ewb"}
    ewb = names.pop("model.ewb")  # the deployable artifact: the int8 TFLite file packed, measured from the .ewb
    assert ewb.backend == "numpy" and ewb.accuracy == names["model.int8.tflite"].accuracy
    assert ewb.size_bytes == report.bundle.download_bytes < names["model.int8.tflite"].size_bytes / 2
    assert "model.ewb" in summary_table(report)
    assert report.baseline.accuracy >= 0.95
    # baseline.keras holds the weights without optimizer state
    assert report.baseline.size_bytes < 1.2 * 4 * report.baseline.parameters
    for a in names.values():
        assert a.sparsity >= 0.75, a.path
        assert a.accuracy is not None and a.accuracy >= report.baseline.accuracy - 0.03, a.path
        assert os.path.getsize(out / a.path) == a.size_bytes
        assert a.check.passed
        assert a.benchmark is not None and not a.benchmark.error, a.benchmark
        lat = a.latency_ms
        assert lat.n == 50 and 0 < lat.p50 <= lat.p90 <= lat.p99
        assert a.backend in ("litert", "onnxruntime")
        assert {b.backend for b in a.accuracy_by_backend} == ({"litert", "numpy"} if a.format == "tflite"
                                                    else {"onnxruntime", "numpy"})
    assert names["model.int8.tflite"].size_bytes < names["model.tflite"].size_bytes / 3
    assert [s.kind for s in report.steps] == ["prune", "quantize"]  # the demo recipe
    assert report.recipe.name == "demo" and report.steps[0].sparsity >= 0.75
    assert report.timings[0].name == "train the demo CNN"
    assert any(n.startswith("step 1/2: prune 80%") for n in lines)
    data = json.loads((out / "report.json").read_text())
    assert data["baseline"]["accuracy"] == report.baseline.accuracy
    core = {"path", "format", "size_bytes", "accuracy", "sparsity", "latency_ms", "backend"}
    assert core <= set(data["artifacts"][0])
    assert set(data["artifacts"][0]["latency_ms"]) >= {"p50", "p90", "p99"}
    assert (out / "report.html").is_file() and (out / "steps" / "01-prune.keras").is_file()


def test_saved_model_folder_converts_but_does_not_prune(tmp_path, trained_model, digits):
    folder = tmp_path / "saved"
    trained_model.export(str(folder))
    report = optimize(str(folder), digits.calibration, digits.heldout, quantize="int8", out_dir=tmp_path / "out",
                      settings=Settings(formats=("tflite",), include_float=False, benchmark=False))
    assert report.baseline.path == str(folder)
    assert report.artifacts[0].accuracy == pytest.approx(report.baseline.accuracy, abs=0.02)
    with pytest.raises(ValueError, match="SavedModel .* cannot be pruned"):
        optimize(str(folder), digits.calibration, digits.heldout, prune=0.5, train=digits.train,
                 out_dir=tmp_path / "out2")


def test_prune_refuses_a_model_without_prunable_layers():
    import keras

    from edgewise.compress import PruneConfig, prune

    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    with pytest.raises(ValueError, match="no prunable layers .*BatchNormalization"):
        prune(model, np.zeros((4, 4), np.float32), np.zeros(4, np.int64), PruneConfig(0.5))

"""optimize() writes the .ewb bundle as its final deployable artifact (issue 8), and every step's deployable size."""
import json
import os

import numpy as np
import pytest

from edgewise.bundle import unpack
from edgewise.runtime.summary import inspect_model
from edgewise.pipeline import Settings, optimize
from edgewise.runtime import load
from edgewise.steps.measure import deployable_file

pytestmark = [pytest.mark.host, pytest.mark.slow]

RECIPE = {"name": "small", "steps": [
    {"kind": "prune", "magnitude": {"target_sparsity": 0.7}, "fine_tune": {"epochs": 1}},
    {"kind": "quantize", "mode": "int8", "formats": ["tflite"]},
]}


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_mlp, flat_digits):
    out = tmp_path_factory.mktemp("deploy")
    report = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout, RECIPE, train=flat_digits.train,
                      out_dir=out, settings=Settings(formats=("tflite",), include_float=False, benchmark=False,
                                                     max_accuracy_drop=None))
    return out, report


def test_optimize_writes_model_ewb_that_runs_like_its_int8_tflite(run, flat_digits):
    out, report = run
    assert (out / "model.ewb").is_file()
    bundle, tflite = load(str(out / "model.ewb"), backend="numpy"), load(str(out / "model.int8.tflite"),
                                                                        backend="numpy")
    x = flat_digits.heldout.x[:64]
    assert np.array_equal(bundle.run(x, quantize=True)[0], tflite.run(x, quantize=True)[0])
    litert = load(str(out / "model.ewb"), backend="litert")  # decoded to the model's bytes, handed to LiteRT
    assert np.array_equal(litert.run(x, quantize=True)[0], load(str(out / "model.int8.tflite"),
                                                                backend="litert").run(x, quantize=True)[0])
    (out / "unpacked").mkdir()
    unpack(str(out / "model.ewb"), str(out / "unpacked"))
    assert (out / "unpacked" / "model.int8.tflite").read_bytes() == (out / "model.int8.tflite").read_bytes()


def test_report_gives_the_three_sizes_and_the_bundle_accuracy(run):
    out, report = run
    b = report.bundle
    info = inspect_model(str(out / "model.ewb")).bundle
    assert (b.download_bytes, b.disk_bytes, b.ram_bytes) == (info.download_bytes, info.disk_bytes, info.ram_bytes)
    assert b.download_bytes == os.path.getsize(out / "model.ewb")
    assert b.disk_bytes == os.path.getsize(out / "model.int8.tflite")
    assert b.download_bytes < b.disk_bytes  # 70% zeros: the coded weights pay
    assert b.ram_bytes >= 64 * 32 + 32 * 10  # every int8 weight, dense, at least
    ewb = next(a for a in report.artifacts if a.path == "model.ewb")
    int8 = next(a for a in report.artifacts if a.path == "model.int8.tflite")
    assert ewb.backend == "numpy" and ewb.accuracy == b.accuracy == int8.accuracy  # decoding is bit-exact
    saved = json.loads((out / "report.json").read_text())
    assert saved["bundle"]["download_bytes"] == b.download_bytes


def test_manifest_carries_the_recipe_and_measured_accuracy(run):
    out, report = run
    info = inspect_model(str(out / "model.ewb")).bundle
    assert info.recipe["name"] == "small" and [s["kind"] for s in info.recipe["steps"]] == ["prune", "quantize"]
    text = json.dumps(info.report)
    assert str(next(a for a in report.artifacts if a.path == "model.int8.tflite").accuracy) in text


def test_every_step_has_a_bundle_as_its_deployable_size(run):
    out, report = run
    prune, quantize = report.steps
    for step in (prune, quantize):
        best = deployable_file([str(out / a) for a in step.artifacts])
        assert best is not None and best.endswith(".ewb"), step.artifacts
        assert step.deployable_bytes == os.path.getsize(best)
    assert quantize.deployable_bytes < os.path.getsize(out / "model.int8.tflite")

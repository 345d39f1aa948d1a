"""ONNX -> TFLite through onnx2tf: offline, on a copy, verified against onnxruntime, layouts stated and usable.

Every conversion here runs `edgewise convert` in a network namespace with no route (see
`offline`), so a passing test also proves nothing was downloaded; results are cached.
"""
import hashlib

import numpy as np
import pytest

from . import light_models, models
from .offline import offline_cli, offline_python

pytestmark = [pytest.mark.host, pytest.mark.slow]
pytest.importorskip("onnx2tf", reason="needs the onnx2tf extra: pip install 'edgewise[host,onnx2tf]'")
ort = pytest.importorskip("onnxruntime", reason="needs the host extra (onnxruntime)")


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _ort(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@pytest.fixture(scope="module")
def two_io(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_io")
    model = models.two_input_onnx(folder / "two_io.onnx")
    calib = folder / "calib.npz"
    np.savez(calib, **models.two_input_onnx_samples(48))
    return model, calib


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_two_input_onnx_converts_offline_with_layouts_stated(two_io, quantize):
    model, calib = two_io
    before = _sha(model)
    run = offline_cli(model, f"two_io.{quantize}.tflite", ["--to", "tflite", "--quantize", quantize,
                                                             "--calib", str(calib)], [calib])
    assert run.returncode == 0, run.output
    assert _sha(model) == before  # onnx2tf ran onnxsim on a copy, not on the user's file
    layouts = {lay["name"]: lay for lay in run.result["layouts"]}
    assert tuple(layouts["b"]["perm"]) == (0, 2, 3, 1) and "NCHW -> NHWC" in layouts["b"]["description"]
    assert layouts["a"]["perm"] == []
    assert run.result["verification"]["passed"]
    assert "NCHW -> NHWC" in run.output  # stated to the user, not only in the JSON


def test_edgewise_runtime_runs_the_onnx2tf_file_on_the_users_data(two_io):
    """The stated layouts are enough for edgewise.runtime to give onnxruntime's answer on the same data."""
    from edgewise.converters.layout import for_model
    from edgewise.converters.result import ConversionResult
    from edgewise.runtime import load

    model, calib = two_io
    run = offline_cli(model, "two_io.none.tflite", ["--to", "tflite", "--quantize", "none", "--calib", str(calib)],
                      [calib])
    result = ConversionResult.from_dict(run.result)
    data = models.two_input_onnx_samples(6, seed=11)  # unseen samples
    want = dict(zip(["probs", "score"], _ort(model, data)))
    for backend in ("numpy", "litert"):
        m = load(str(run.out), backend=backend)
        got = m.run(for_model([s.name for s in m.inputs], data, result.layouts))
        for spec, y in zip(m.outputs, got):
            ref = want["probs"] if y.shape[-1] == 5 else want["score"]
            np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5, err_msg=f"{backend} {spec.name}")


def test_int8_without_calibration_is_refused_before_anything_runs(two_io, tmp_path):
    from edgewise.cli import main

    model, _ = two_io
    out = tmp_path / "m.tflite"
    assert main(["convert", str(model), "--to", "tflite", "--quantize", "int8", "--out", str(out)]) != 0
    assert not out.exists()


def test_squeezenet_opset9_softmax_comes_out_right(tmp_path_factory):
    src = light_models.randomized("squeezenet", tmp_path_factory.mktemp("sq") / "squeezenet.onnx")
    calib = src.with_name("calib.npz")
    np.savez(calib, x=light_models.images(6))
    run = offline_cli(src, "squeezenet.tflite", ["--to", "tflite", "--calib", str(calib)], [src, calib])
    assert run.returncode == 0, run.output
    check = run.result["verification"]["outputs"][0]
    assert check["cosine"] > 0.9999 and check["passed"]
    assert any("opset 9 -> 13" in n for n in run.result["notes"])
    y = _ort(src, {"data_0": light_models.images(1, seed=5)})[0]
    assert y.max() > 0.01  # the reference is a real distribution, not the 1/1000 everywhere of a dead net


def test_squeezenet_as_onnx2tf_writes_it_is_refused_not_written(tmp_path_factory):
    """Without the opset upgrade onnx2tf exits 0 with all-ones scores; verification must refuse that file."""
    src = light_models.randomized("squeezenet", tmp_path_factory.mktemp("sq_raw") / "squeezenet.onnx")
    code = f"""
import os, shutil, tempfile
from edgewise.converters import ConversionError
from edgewise.converters.onnx2tf import run_onnx2tf
from edgewise.converters.verify import verify_detailed
from tests.converters.light_models import images
feeds = {{"data_0": images(4)}}
with tempfile.TemporaryDirectory() as work:
    copy = os.path.join(work, "model.onnx")
    shutil.copyfile({str(src)!r}, copy)
    tfl, _ = run_onnx2tf(copy, work, feeds, "squeezenet.tflite")
    try:
        verify_detailed(tfl, {str(src)!r}, feeds, "float32", channels_last=True, cross=True)
    except ConversionError as e:
        print("REFUSED", e.tensor, e.measured)
    else:
        print("ACCEPTED")
"""
    proc = offline_python(code)
    assert "REFUSED" in proc.stdout, proc.stdout + proc.stderr
    measured = float(proc.stdout.split("REFUSED")[1].split()[1])
    assert measured > 0.9  # all ones against a distribution that sums to one


@pytest.mark.parametrize("name", ["shufflenet", "resnet50"])
def test_light_models_float32(tmp_path_factory, name):
    src = light_models.randomized(name, tmp_path_factory.mktemp(name) / f"{name}.onnx")
    calib = src.with_name("calib.npz")
    np.savez(calib, x=light_models.images(4))
    before = _sha(src)
    run = offline_cli(src, f"{name}.tflite", ["--to", "tflite", "--calib", str(calib)], [src, calib])
    assert run.returncode == 0, run.output
    assert _sha(src) == before
    check = run.result["verification"]["outputs"][0]
    assert check["passed"] and check["cosine"] > 0.9999
    assert run.result["inputs"][0]["shape"] == [1, 224, 224, 3]  # fixed batch 1, channels last: stated


def test_onnx2tf_failing_in_its_child_process_is_a_conversion_error(tmp_path):
    """A file onnx2tf cannot read: its child process fails, the caller gets a ConversionError, not a crash."""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07" + b"\xff" * 64)  # an ONNX-looking header, then garbage
    code = f"""
import numpy as np
from edgewise.converters import ConversionError
from edgewise.converters.onnx2tf import run_onnx2tf
try:
    run_onnx2tf({str(bad)!r}, {str(tmp_path)!r}, {{"x": np.zeros((2, 3), np.float32)}}, "bad.tflite")
except ConversionError as e:
    print("ERROR", e)
"""
    proc = offline_python(code, timeout=600)
    assert "ERROR bad.tflite: onnx2tf exited" in proc.stdout, proc.stdout + proc.stderr


def test_squeezenet_int8_explained(tmp_path_factory):
    src = light_models.randomized("squeezenet", tmp_path_factory.mktemp("sq8") / "squeezenet.onnx")
    calib = src.with_name("calib.npz")
    np.savez(calib, x=light_models.images(8))
    run = offline_cli(src, "squeezenet.int8.tflite", ["--to", "tflite", "--quantize", "int8", "--calib", str(calib),
                                                      "--explain"], [src, calib])
    assert run.returncode == 0, run.output
    check = run.result["verification"]["outputs"][0]
    assert check["passed"] and check["cosine"] > 0.99
    assert run.result["inputs"][0]["dtype"] == "int8" and run.result["inputs"][0]["shape"] == [1, 224, 224, 3]
    layers = run.result["layers"]
    assert layers["worst_growth"] in {e["tensor"] for e in layers["layers"]}
    assert "error grows most at" in run.output

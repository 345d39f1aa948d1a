"""`edgewise convert`: Keras files in, a verified file out, the figures printed and written as JSON."""
import json

import numpy as np
import pytest

from edgewise.cli import main

from ..runtime.conformance import models as conformance

pytestmark = pytest.mark.host
pytest.importorskip("tensorflow", reason="needs the host extra (TensorFlow)")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    model = conformance.demo_cnn()
    keras_path, h5_path = folder / "demo.keras", folder / "demo.h5"
    model.save(keras_path)
    model.save(h5_path)
    calib = folder / "calib.npz"
    rng = np.random.default_rng(0)
    np.savez(calib, x=rng.uniform(0, 1, (48, 8, 8, 1)).astype(np.float32))
    ev = folder / "eval.npz"
    np.savez(ev, x=rng.uniform(0, 1, (16, 8, 8, 1)).astype(np.float32), y=rng.integers(0, 10, 16))
    return keras_path, h5_path, calib, ev


def test_keras_file_to_int8_tflite_explained(files, tmp_path, capsys):
    keras_path, _, calib, ev = files
    out, js = tmp_path / "m.tflite", tmp_path / "m.json"
    code = main(["convert", str(keras_path), "--to", "tflite", "--quantize", "int8", "--calib", str(calib),
                 "--eval", str(ev), "--explain", "--out", str(out), "--json", str(js)])
    printed = capsys.readouterr().out
    assert code == 0 and out.exists()
    result = json.loads(js.read_text())
    assert result["verification"]["samples"] == 64  # eval and calibration samples
    assert result["layers"]["worst_growth"] and result["layers"]["worst_growth"] in printed
    assert "batch dynamic" in printed and "top-1 agreement" in printed and "error grows most" in printed


def test_h5_file_to_onnx(files, tmp_path, capsys):
    _, h5_path, calib, _ = files
    out = tmp_path / "m.onnx"
    assert main(["convert", str(h5_path), "--to", "onnx", "--calib", str(calib), "--out", str(out)]) == 0
    assert out.exists() and "max |error|" in capsys.readouterr().out


def test_refused_conversion_exits_non_zero_and_writes_nothing(files, tmp_path, capsys):
    keras_path, _, calib, _ = files
    out = tmp_path / "m.onnx"
    code = main(["convert", str(keras_path), "--to", "onnx", "--quantize", "int16x8", "--calib", str(calib),
                 "--out", str(out)])
    assert code != 0 and not out.exists()
    assert "TFLite mode" in capsys.readouterr().err

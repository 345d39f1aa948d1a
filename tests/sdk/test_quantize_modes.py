"""Every TFLite quantization mode through a recipe: the file written, verified, its precision in the file, accuracy."""
import os

import numpy as np
import pytest

from edgewise.pipeline import Settings, optimize
from edgewise.recipe import shorthand

pytestmark = pytest.mark.host


def _tensor_types(path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    return it, {t["name"]: np.dtype(t["dtype"]) for t in it.get_tensor_details()}


@pytest.mark.slow  # one conversion each (a few seconds)
@pytest.mark.parametrize("mode", ["float16", "dynamic", "int16x8"])
def test_mode_writes_a_verified_file_of_that_precision(tmp_path, tiny_mlp, flat_digits, mode):
    out = tmp_path / "out"
    report = optimize(tiny_mlp, flat_digits.calibration, flat_digits.heldout,
                      {"steps": [{"kind": "quantize", "mode": mode}]}, out_dir=out,
                      settings=Settings(formats=("tflite",), benchmark=False, max_accuracy_drop=1.0))
    (step,) = report.steps
    assert step.artifacts == (f"model.{mode}.tflite",)
    path = out / step.artifacts[0]
    assert os.path.getsize(path) == step.size_bytes
    artifact = next(a for a in report.artifacts if a.path == step.artifacts[0])
    assert artifact.precision == mode and artifact.verification["passed"]
    assert artifact.verification["samples"] > 0
    # accuracy measured on the written file, within the 1-point guard of the Keras baseline
    assert step.accuracy == artifact.accuracy
    assert report.baseline.accuracy - step.accuracy <= 0.01 + 1e-9
    it, types = _tensor_types(path)
    float_bytes = os.path.getsize(out / "model.tflite")
    kinds = set(types.values())
    if mode == "float16":  # half-precision weights, float interface
        assert np.dtype(np.float16) in kinds and step.size_bytes < float_bytes
    elif mode == "dynamic":  # int8 weights, float activations and interface
        assert np.dtype(np.int8) in kinds and np.dtype(np.int16) not in kinds and step.size_bytes < float_bytes
    else:  # int16 activations beside int8 weights
        assert {np.dtype(np.int8), np.dtype(np.int16)} <= kinds
    assert it.get_input_details()[0]["dtype"] == np.float32


def test_shorthand_offers_every_mode_and_refuses_others():
    from edgewise.steps import RecipeError

    for mode in ("int8", "float16", "dynamic", "int16x8"):
        (step,) = shorthand(quantize=mode, formats=("tflite", "onnx")).steps
        assert step.mode == mode
        assert step.formats == (("tflite", "onnx") if mode == "int8" else ("tflite",))
    with pytest.raises(RecipeError, match="field 'quantize'.*int4"):
        shorthand(quantize="int4")


def test_cli_quantize_shorthand_offers_every_mode(capsys):
    from edgewise.cli import build_parser

    base = ["optimize", "m.keras", "--calib", "c.npz", "--eval", "e.npz", "--out", "o"]
    for mode in ("int8", "float16", "dynamic", "int16x8"):
        assert build_parser().parse_args(base + ["--quantize", mode]).quantize == mode
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--quantize", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err

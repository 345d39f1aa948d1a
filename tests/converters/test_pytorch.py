"""PyTorch nn.Module -> ONNX (torch.onnx.export) -> int8 ONNX or TFLite, each verified against the module."""
import numpy as np
import pytest

from edgewise.converters import convert

from . import models
from .offline import offline_python

pytestmark = pytest.mark.host
torch = pytest.importorskip("torch", reason="needs the torch extra: pip install 'edgewise[torch]' (CPU build)")
pytest.importorskip("onnxruntime", reason="needs the host extra (onnxruntime)")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (32, 3, 16, 16)).astype(np.float32)


def test_module_to_float_onnx(tmp_path, images):
    r = convert(models.torch_cnn(), tmp_path / "cnn.onnx", to="onnx", calibration=images, input_names=["pixels"])
    assert r.verification.reference == "torch module 'SmallCNN'"
    check = r.verification.outputs[0]
    assert check.passed and check.cosine > 0.99999 and check.top1_agreement == 1.0
    assert r.inputs[0].name == "pixels" and r.inputs[0].shape == ("batch", 3, 16, 16)


def test_module_to_int8_onnx_is_verified_against_the_module(tmp_path, images):
    r = convert(models.torch_cnn(), tmp_path / "cnn.int8.onnx", to="onnx", quantize="int8", calibration=images,
                input_names=["pixels"], explain=True)
    assert r.verification.reference == "torch module 'SmallCNN'" and r.verification.passed
    assert r.layers is not None and r.layers.layers


@pytest.mark.slow
def test_module_to_int8_tflite_offline():
    code = """
import numpy as np
from edgewise.converters import convert
from tests.converters import models
x = np.random.default_rng(0).uniform(-1, 1, (32, 3, 16, 16)).astype(np.float32)
import tempfile, os
with tempfile.TemporaryDirectory() as d:
    r = convert(models.torch_cnn(), os.path.join(d, "cnn.tflite"), to="tflite", quantize="int8", calibration=x)
    c = r.verification.outputs[0]
    print("RESULT", r.verification.reference, r.layouts[0].perm, c.passed, c.cosine, c.top1_agreement)
"""
    proc = offline_python(code)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    assert "torch module 'SmallCNN'" in line and "(0, 2, 3, 1) True" in line

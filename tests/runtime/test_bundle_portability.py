"""A bundle written on the host loads in the runtime installed alone, on Python 3.9 and 3.13.

Each environment gets NumPy and `pip install .` without extras (no TensorFlow, onnx, LiteRT); a
script run from an empty folder loads the .ewb with `edgewise.runtime.load` and runs it.
The oracle is the plain .tflite run by the host's NumPy backend on the same input.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from edgewise.bundle import pack
from edgewise.runtime import load

from ..pythons import find_python
from .conformance.models import CONFORMANCE_MODELS
from .test_portability import _clean_env, _make_venv, _pip, _source_copy

SCRIPT = """
import sys, numpy as np
from edgewise.runtime import load
heavy = [m for m in ("tensorflow", "onnx", "onnxruntime", "ai_edge_litert", "keras", "edgewise.bundle") if m in sys.modules]
assert not heavy, heavy
m = load(sys.argv[1], backend="numpy")
np.save(sys.argv[3], m.run(np.load(sys.argv[2]), quantize=True)[0])
"""


@pytest.mark.slow
@pytest.mark.host
@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_host_bundle_runs_in_the_runtime_alone(version, model_store, tmp_path):
    plain = model_store.path("demo_cnn", "tflite", "int8")
    bundle = tmp_path / "demo_cnn.ewb"
    pack(plain, bundle)
    x = CONFORMANCE_MODELS["demo_cnn"].input.sample(np.random.default_rng(0))
    np.save(tmp_path / "x.npy", x)
    want = load(str(plain), backend="numpy").run(x, quantize=True)[0]

    py = _make_venv(find_python(version), tmp_path / "venv")
    _pip(py, "numpy")
    _pip(py, str(_source_copy(tmp_path / "edgewise-src")))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "check.py").write_text(SCRIPT)
    r = subprocess.run([str(py), "check.py", str(bundle), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                       capture_output=True, text=True, cwd=run_dir, env=_clean_env())
    assert r.returncode == 0, f"Python {version}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)

"""The NumPy backend on golden cases: runs with nothing but NumPy, pytest and edgewise.runtime.

This file is self-contained on purpose. tests/runtime/test_portability.py copies it into an empty
folder and runs it in fresh virtual environments (Python 3.9, 3.11, 3.13) where only the runtime
is installed, against golden files made on the host by goldens.py: each case is a model file from
the real converters, an input, and the output of the reference runtime (LiteRT's builtin kernels
for TFLite, onnxruntime for ONNX). On the host it runs too, on goldens made by the fixture in
conftest.py.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from edgewise.runtime import ModelFormatError, load

GOLDEN_DIR = os.environ.get("EDGEWISE_GOLDEN_DIR")


def _manifest(golden_dir):
    return json.loads((Path(golden_dir) / "manifest.json").read_text())


@pytest.fixture(scope="module")
def golden_dir(request):
    if GOLDEN_DIR:
        return Path(GOLDEN_DIR)
    return request.getfixturevalue("host_golden_dir")  # defined in conftest.py, needs TensorFlow


def _cases():
    if GOLDEN_DIR:
        return [c["id"] for c in _manifest(GOLDEN_DIR)["cases"]]
    from .goldens import CASES  # host run: same ids as the fixture will write

    return [f"{name}.{variant}.{fmt}" for name, fmt, variant in CASES]


@pytest.mark.parametrize("case_id", _cases())
def test_numpy_backend_matches_reference(golden_dir, case_id):
    case = next(c for c in _manifest(golden_dir)["cases"] if c["id"] == case_id)
    model = load(str(golden_dir / case["model"]), backend="numpy")
    assert model.backend.name == "numpy"
    with np.load(golden_dir / case["data"]) as data:
        x = data["x"]
        expected = [data[f"y{i}"] for i in range(case["n_outputs"])]
    outs = model.run(x)
    assert len(outs) == len(expected)
    for got, want, spec in zip(outs, expected, model.outputs):
        assert got.dtype == want.dtype, spec.name
        assert got.shape == want.shape, spec.name
        if case["compare"] == "exact":
            diff = np.flatnonzero(got != want)
            assert diff.size == 0, f"{case_id} output {spec.name}: {diff.size} of {got.size} values differ"
        else:
            rtol = float(case["compare"].split(":")[1])
            err = np.max(np.abs(got.astype(np.float64) - want)) / max(np.max(np.abs(want)), 1e-30)
            assert err <= rtol, f"{case_id} output {spec.name}: relative error {err:.3g} > {rtol}"


@pytest.mark.parametrize("cut", [0, 7, 0.5, -1])
def test_truncated_files_raise_model_format_error(golden_dir, tmp_path, cut):
    for case in _manifest(golden_dir)["cases"][:4]:
        data = (golden_dir / case["model"]).read_bytes()
        n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(data) + cut)
        bad = tmp_path / ("truncated_" + case["model"])
        bad.write_bytes(data[:n])
        with pytest.raises(ModelFormatError) as e:
            load(str(bad), backend="numpy")
        assert str(bad) in str(e.value)

"""The runtime installed alone, in fresh virtual environments, on every Python it supports.

Each environment gets NumPy, pytest and `pip install .` without extras (what `pip install edgewise`
gives a device: no TensorFlow, no onnx, no LiteRT) and runs portable/test_portable.py, copied into
an empty folder so nothing of this repository is importable, against golden files made here. A
second check runs the CLI of that install: `edgewise run` works with NumPy alone and host commands
name the extra to install.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..pythons import find_python

REPO = Path(__file__).resolve().parents[2]
PORTABLE_TEST = Path(__file__).parent / "portable" / "test_portable.py"


def _make_venv(python: str, where: Path) -> Path:
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    return where / "bin" / "python"


def _pip(py: Path, *args: str) -> None:
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"pip install {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"


def _source_copy(where: Path) -> Path:
    """The repository as a fresh clone has it (setuptools leaves build/ and *.egg-info where it builds)."""
    return shutil.copytree(REPO, where, ignore=shutil.ignore_patterns(
        "__pycache__", ".git", ".venv", "build", "*.egg-info", "out", ".pytest_cache"))


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.pop("EDGEWISE_GOLDEN_DIR", None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.9", "3.11", "3.13"])
def test_runtime_alone_passes_portable_tests(version, host_golden_dir, tmp_path):
    py = _make_venv(find_python(version), tmp_path / "venv")
    _pip(py, "numpy", "pytest")
    _pip(py, str(_source_copy(tmp_path / "edgewise-src")))
    r = subprocess.run([str(py), "-c", "import sys, edgewise.runtime as r; import numpy;"
                        "heavy=[m for m in ('tensorflow','onnx','onnxruntime','ai_edge_litert','keras') if m in sys.modules];"
                        "print(r.__file__, heavy)"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "site-packages" in r.stdout and "[]" in r.stdout, r.stdout
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(PORTABLE_TEST, run_dir / "test_portable.py")
    env = _clean_env()
    env["EDGEWISE_GOLDEN_DIR"] = str(host_golden_dir)
    r = subprocess.run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(run_dir),
                        "test_portable.py"], capture_output=True, text=True, cwd=run_dir, env=env)
    assert r.returncode == 0, f"Python {version}:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
    assert " passed" in r.stdout and "failed" not in r.stdout


@pytest.mark.slow
def test_edgewise_without_extras_runs_models_and_names_the_missing_extra(host_golden_dir, tmp_path):
    py = _make_venv(find_python("3.13"), tmp_path / "venv")
    _pip(py, str(_source_copy(tmp_path / "edgewise-src")))
    exe = py.parent / "edgewise"
    model = host_golden_dir / "demo_cnn.int8.tflite"
    import numpy as np

    with np.load(host_golden_dir / "demo_cnn.int8.tflite.npz") as d:
        np.save(tmp_path / "x.npy", d["x"])
    r = subprocess.run([str(exe), "run", str(model), "--input", str(tmp_path / "x.npy"), "--json"],
                       capture_output=True, text=True, cwd=tmp_path, env=_clean_env())
    assert r.returncode == 0, r.stderr
    assert '"name": "numpy"' in r.stdout
    r = subprocess.run([str(exe), "optimize", str(model), "--calib", "c.npz", "--eval", "e.npz", "--out", "o"],
                       capture_output=True, text=True, cwd=tmp_path, env=_clean_env())
    assert r.returncode != 0
    assert "pip install 'edgewise[host]'" in r.stderr, r.stderr

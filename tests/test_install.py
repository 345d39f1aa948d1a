"""One distribution, `edgewise`, installed the ways a user does: regular and editable, in either order.

Two distributions that both place files under `edgewise/` (the runtime alone used to be one)
leave `import edgewise` a namespace package without `__version__` when installed side by side,
and the CLI dies. So there is one: `pip install edgewise` is NumPy only, extras add the host side.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("sdk", "runtime", "converters", "device_tests")


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


def _pip(py: Path, *args: str) -> None:
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                       capture_output=True, text=True, env=_env())
    assert r.returncode == 0, f"pip install {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"


def _check(venv: Path, cwd: Path, step: str) -> None:
    r = subprocess.run([str(venv / "bin" / "edgewise"), "--version"], capture_output=True, text=True,
                       cwd=cwd, env=_env())
    assert r.returncode == 0 and r.stdout.strip() == "edgewise 0.1.0", f"after {step}: {r.stdout}{r.stderr}"
    r = subprocess.run([str(venv / "bin" / "python"), "-c",
                        "import edgewise, edgewise.runtime as rt; print(edgewise.__version__, rt.load.__module__)"],
                       capture_output=True, text=True, cwd=cwd, env=_env())
    assert r.returncode == 0 and r.stdout.split() == ["0.1.0", "edgewise.runtime.model"], \
        f"after {step}: {r.stdout}{r.stderr}"


def test_there_is_one_distribution_and_it_needs_only_numpy():
    extra = [f"{f}/{name}" for f in FOLDERS for name in ("pyproject.toml", "setup.py", "setup.cfg")
             if (REPO / f / name).exists()]
    assert extra == [], f"a second distribution would share the `edgewise` package: {extra}"
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert conf["project"]["dependencies"] == ["numpy>=1.21"], "a device installs edgewise with NumPy alone"


@pytest.mark.slow
@pytest.mark.parametrize("order", [("regular", "editable"), ("editable", "regular")])
def test_install_in_either_order_keeps_cli_and_runtime(order, tmp_path):
    src = shutil.copytree(REPO, tmp_path / "src", ignore=shutil.ignore_patterns(
        "__pycache__", ".git", ".venv", "build", "*.egg-info", "out", ".pytest_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    elsewhere = tmp_path / "elsewhere"  # not the source folder, so nothing is imported from the cwd
    elsewhere.mkdir()
    for how in order:
        _pip(venv / "bin" / "python", *(["-e", str(src)] if how == "editable" else [str(src)]))
        _check(venv, elsewhere, f"{' then '.join(order)} (step {how})")

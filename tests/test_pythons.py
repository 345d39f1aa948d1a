"""tests/pythons.py: a missing Python skips with a summary line, unless the run requires it."""
from __future__ import annotations

import os
import sys

import pytest

from . import pythons


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No pyenv, no uv Pythons, nothing on PATH; the run's record of missing versions restored after."""
    for var in ("PYENV_ROOT", "UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME", pythons.REQUIRE_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    saved = set(pythons.missing)
    pythons.missing.clear()
    yield tmp_path
    pythons.missing.clear()
    pythons.missing.update(saved)


def test_missing_python_skips_and_the_summary_names_it(nowhere):
    with pytest.raises(pytest.skip.Exception, match="python3.9 not found"):
        pythons.find_python("3.9")
    with pytest.raises(pytest.skip.Exception):
        pythons.find_python("3.13")
    line = pythons.summary_line()
    assert line.startswith("missing Pythons: 3.9 3.13;") and "uv python install 3.9 3.13" in line


@pytest.mark.parametrize("required", ["3.8,3.9", " 3.9 ", "all"])
def test_required_python_fails(nowhere, monkeypatch, required):
    monkeypatch.setenv(pythons.REQUIRE_ENV, required)
    with pytest.raises(pytest.fail.Exception, match="EDGEWISE_REQUIRE_PYTHONS requires it"):
        pythons.find_python("3.9")
    assert pythons.summary_line() is None


def test_found_in_uv_or_path_and_never_a_shim(nowhere, monkeypatch):
    exe = os.path.realpath(sys.executable)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    uv_bin = nowhere / ".local" / "share" / "uv" / "python" / f"cpython-{version}.4-linux-x86_64-gnu" / "bin"
    uv_bin.mkdir(parents=True)
    (uv_bin / f"python{version}").symlink_to(exe)
    assert pythons.find_python(version) == str(uv_bin / f"python{version}")
    shims = nowhere / "bin"
    shims.mkdir()
    (uv_bin / f"python{version}").unlink()
    (shims / f"python{version}").symlink_to(exe)
    assert pythons.find_python(version) == str(shims / f"python{version}")
    monkeypatch.setenv("PATH", str(nowhere / "pyenv" / "shims"))
    (nowhere / "pyenv" / "shims").mkdir(parents=True)
    (nowhere / "pyenv" / "shims" / f"python{version}").symlink_to(exe)
    with pytest.raises(pytest.skip.Exception):
        pythons.find_python(version)  # a pyenv shim may run any version: not trusted

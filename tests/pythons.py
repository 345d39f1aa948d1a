"""Find the other CPython versions the tests run the runtime and the agent on.

Where a version is looked for: pyenv's versions (`$PYENV_ROOT`, default `~/.pyenv`), uv's managed
Pythons (`$UV_PYTHON_INSTALL_DIR`, default `~/.local/share/uv/python`), then `pythonX.Y` on PATH.
`./dev test` installs the missing ones with `uv python install` when it can (see `dev`).

A version that cannot be found SKIPS the test that needs it, and the run's summary prints one line
naming every missing version and how to get it (tests/conftest.py). CI must not lose these tests:
under `EDGEWISE_REQUIRE_PYTHONS=3.8,3.9` a missing listed version FAILS instead, and under
`EDGEWISE_REQUIRE_PYTHONS=all` (what `.ci/run` sets) every missing version does.

Run as a script (`python -m tests.pythons`), it prints the versions in `USED` that are missing.
"""
from __future__ import annotations

import glob
import os
import shutil
import sys
from typing import List, Optional, Set

import pytest

# Every version a test asks for; `.ci/run` requires all of them, `./dev` provisions the missing ones.
USED = ("3.8", "3.9", "3.11", "3.13")
REQUIRE_ENV = "EDGEWISE_REQUIRE_PYTHONS"

# Versions asked for in this run and not found: the summary line reads this.
missing: Set[str] = set()


def _candidates(version: str) -> List[str]:
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    uv_root = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "uv", "python")
    found = sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")))
    found += sorted(glob.glob(os.path.join(uv_root, f"cpython-{version}.*", "bin", f"python{version}")))
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(on_path)
    return found


def locate_python(version: str) -> Optional[str]:
    """The path of a real `python<version>` (pyenv shims excluded: they may point anywhere), or None."""
    for cand in _candidates(version):
        if "/shims/" not in cand and os.access(cand, os.X_OK):
            return cand
    return None


def is_required(version: str) -> bool:
    """Whether EDGEWISE_REQUIRE_PYTHONS ("3.8,3.9", or "all": every version a test asks for) names it."""
    wanted = {v.strip() for v in os.environ.get(REQUIRE_ENV, "").split(",") if v.strip()}
    return "all" in wanted or version in wanted


def find_python(version: str) -> str:
    """A python for `version` ("3.9"). Missing: the test fails if `version` is required, else skips."""
    path = locate_python(version)
    if path:
        return path
    if is_required(version):
        pytest.fail(f"python{version} not found (pyenv, uv or PATH) and {REQUIRE_ENV} requires it: "
                    f"`uv python install {version}` or `pyenv install {version}`")
    missing.add(version)
    pytest.skip(f"python{version} not found (pyenv, uv or PATH); see the summary line 'missing Pythons'")


def summary_line() -> Optional[str]:
    """The one line the run's summary shows when tests were skipped for want of a Python."""
    if not missing:
        return None
    vs = " ".join(sorted(missing, key=lambda v: tuple(int(p) for p in v.split("."))))
    return (f"missing Pythons: {vs}; their tests were skipped. Get them with `uv python install {vs}` "
            f"(./dev test does this when uv is installed and online) or `pyenv install`; "
            f"{REQUIRE_ENV}={','.join(vs.split())} makes their absence a failure.")


if __name__ == "__main__":
    print(" ".join(v for v in USED if locate_python(v) is None))
    sys.exit(0)

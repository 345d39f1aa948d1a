"""Find the other CPython versions the runtime supports (pyenv's, or on PATH), for tests that run it there."""
from __future__ import annotations

import glob
import os
import shutil

import pytest


def find_python(version: str) -> str:
    """A python for `version` ("3.9"); a missing one fails the test and says what to install."""
    pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    on_path = shutil.which(f"python{version}")
    for cand in pyenv + [on_path]:
        if cand and "/shims/" not in cand and os.access(cand, os.X_OK):
            return cand
    pytest.fail(f"python{version} not found on PATH or in ~/.pyenv: install it to run this test")

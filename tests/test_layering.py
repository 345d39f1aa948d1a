"""The layering of the README's Layout, checked on every import of converters/ and device_tests/.

They import the runtime, the root utilities of sdk/ and their own folder, never the pipeline, the
CLI or compression; and an import that crosses a top-level folder is absolute, so a reader sees
where it lands. (The runtime's own rule, NumPy + stdlib only, is tests/runtime/test_packaging.py.)
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"converters": "edgewise.converters", "device_tests": "edgewise.device_tests"}
ROOT_UTILITIES = ("edgewise", "edgewise.fileio", "edgewise.progress", "edgewise._extras")
# Known debt: none. Add none; a violation is fixed where it is written.
KNOWN: set = set()


def imports(source: str, module: str, is_package: bool) -> Iterator[Tuple[int, str, bool]]:
    """(line, resolved module, written relative) for each import of an edgewise module."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "edgewise":
                    yield node.lineno, a.name, False
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                yield node.lineno, mod, True
            elif (node.module or "").split(".")[0] == "edgewise":
                yield node.lineno, node.module, False


def violations(source: str, module: str, own: str, is_package: bool = False) -> list:
    out = []
    for line, name, relative in imports(source, module, is_package):
        inside = name == own or name.startswith(own + ".")
        if relative and not inside:
            out.append((line, name, "relative import across top-level folders: write it absolute"))
        elif not inside and not (name in ROOT_UTILITIES or name == "edgewise.runtime"
                                 or name.startswith("edgewise.runtime.")):
            out.append((line, name, "above this layer (only the runtime and root utilities)"))
    return out


def _module(path: Path, folder: str) -> str:
    parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([FOLDERS[folder], *parts])


def test_converters_and_device_tests_import_only_downwards():
    bad = []
    for folder, own in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(REPO).as_posix()
            for line, name, why in violations(path.read_text(), _module(path, folder), own,
                                              path.name == "__init__.py"):
                if (rel, name) not in KNOWN:
                    bad.append(f"{rel}:{line}: {name}: {why}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("snippet", [
    "from ...fileio import atomic_path",     # the right module, but relative across folders
    "from ... import fileio",
    "from edgewise.pipeline import optimize",
    "from edgewise.cli import main",
    "from edgewise.compress import PolynomialDecay",
    "def f():\n    from edgewise.report import write_report\n",
])
def test_checker_refuses(snippet):
    assert violations(snippet, "edgewise.device_tests.connectors.ssh", "edgewise.device_tests")


@pytest.mark.parametrize("snippet", [
    "from edgewise.fileio import atomic_path", "from edgewise._extras import require",
    "from edgewise import __version__", "from edgewise.runtime import load", "from ..errors import ConnectError",
    "from . import local",
])
def test_checker_accepts(snippet):
    assert violations(snippet, "edgewise.device_tests.connectors.ssh", "edgewise.device_tests") == []

"""The runtime stays installable alone: its package list is complete, its imports are NumPy + stdlib."""
from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
# Engines the runtime uses when present; each import sits in a function that handles ImportError.
OPTIONAL = {"ai_edge_litert", "tflite_runtime", "onnxruntime"}


def test_standalone_package_list_matches_the_folders():
    conf = tomllib.loads((RUNTIME / "pyproject.toml").read_text())
    listed = set(conf["tool"]["setuptools"]["packages"])
    found = {
        ".".join(["edgewise", "runtime", *p.parent.relative_to(RUNTIME).parts])
        for p in RUNTIME.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == found, f"runtime/pyproject.toml lists {sorted(listed ^ found)} wrongly"
    assert conf["project"]["dependencies"] == ["numpy>=1.21"]


def test_runtime_imports_only_numpy_and_stdlib():
    allowed = set(sys.stdlib_module_names) | {"numpy", "edgewise"} | OPTIONAL
    bad = []
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] not in allowed:
                    bad.append(f"{path.relative_to(RUNTIME)}:{node.lineno} imports {name}")
    assert not bad, "\n".join(bad)

"""The runtime imports nothing but NumPy, the standard library and itself.

Every import is checked, absolute or relative (resolved against the importing module's package),
at any depth (inside functions too), plus `importlib.import_module("...")` with a literal name:
`from ...fileio import x` in runtime/tflite/ is `edgewise.fileio`, outside the runtime, and fails.
"""
from __future__ import annotations

import ast
import os
import sys
import sysconfig
from pathlib import Path
from typing import List

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
# Engines the runtime uses when present; each import sits in a function that handles ImportError.
OPTIONAL = {"ai_edge_litert", "tflite_runtime", "onnxruntime"}


def _is_stdlib(top: str) -> bool:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return top in names
    import importlib.util

    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        return False
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    return spec.origin in ("built-in", "frozen") or (
        os.path.realpath(spec.origin).startswith(stdlib) and "-packages" not in spec.origin)


def _allowed(name: str) -> bool:
    top = name.split(".")[0]
    return (name == "edgewise.runtime" or name.startswith("edgewise.runtime.") or top == "numpy"
            or top in OPTIONAL or (top != "edgewise" and _is_stdlib(top)))


def foreign_imports(source: str, module: str, is_package: bool = False) -> List[str]:
    """'line: name' for every import in `source` (module `module`) of something outside the runtime."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    bad = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(package):
                    names = [f"{'.' * node.level}{node.module or ''} (above the top package)"]
                else:
                    base = package[: len(package) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                    # `from .. import x` may name a module: check mod.x as well as mod
                    names = [mod] + ([f"{mod}.{a.name}" for a in node.names] if not node.module else [])
            else:
                names = [node.module or ""]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names = [str(node.args[0].value)]
        bad.extend(f"{node.lineno}: {n}" for n in names if not _allowed(n))
    return bad


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(RUNTIME).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["edgewise", "runtime", *parts])


def test_runtime_imports_only_numpy_stdlib_and_itself():
    bad = []
    files = [p for p in RUNTIME.rglob("*.py") if not {"__pycache__", "build"} & set(p.relative_to(RUNTIME).parts)]
    assert len(files) > 50
    for path in files:
        for hit in foreign_imports(path.read_text(), _module_of(path), path.name == "__init__.py"):
            bad.append(f"{path.relative_to(RUNTIME)}:{hit}")
    assert not bad, "the runtime imports outside NumPy + stdlib + edgewise.runtime:\n" + "\n".join(bad)


@pytest.mark.parametrize("snippet", [
    "from ...fileio import write_bytes_atomic",            # relative, out of the runtime into sdk/
    "from ... import cli",                                 # relative, names a module of edgewise
    "from .... import x",                                  # above the top package
    "import edgewise.fileio",
    "from edgewise import progress",
    "from edgewise.converters import keras_to_tflite",
    "import tensorflow as tf",
    "def f():\n    import onnx\n",                         # inside a function counts too
    "import flatbuffers",
    "import importlib\nm = importlib.import_module('keras')",
])
def test_checker_refuses_imports_from_outside(snippet):
    assert foreign_imports(snippet, "edgewise.runtime.tflite.model"), snippet


@pytest.mark.parametrize("snippet", [
    "from .ops import conv", "from ..errors import ModelFormatError", "from .. import records",
    "import numpy as np", "import struct, zlib", "from edgewise.runtime.spec import TensorSpec",
    "def f():\n    import ai_edge_litert\n",
])
def test_checker_accepts_the_runtime_numpy_and_stdlib(snippet):
    assert foreign_imports(snippet, "edgewise.runtime.tflite.model") == [], snippet

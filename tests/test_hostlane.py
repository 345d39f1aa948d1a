"""tests/hostlane.py: what makes a test `host`, so the NumPy-only lane stays real without markers."""
from __future__ import annotations

import ast

import pytest

from . import hostlane


@pytest.mark.parametrize("name, third_party", [
    ("tensorflow", True), ("onnxruntime", True), ("paramiko", True), ("sklearn", True),
    ("surely_not_installed_anywhere", True), ("json", False), ("sqlite3", False), ("numpy", False),
    ("pytest", False), ("edgewise", False), ("tests", False),
])
def test_third_party_is_anything_beyond_stdlib_numpy_pytest_and_edgewise(name, third_party):
    assert hostlane.is_third_party(name) is third_party


def test_imports_resolve_relative_names_and_importorskip():
    tree = ast.parse("from .conformance.convert import ModelStore\nfrom .. import pythons\n"
                     "def f():\n    onnx = pytest.importorskip('onnx')\n    import keras.layers\n")
    names = hostlane._imports([tree], "tests.runtime.test_x", False)
    assert {"tests.runtime.conformance.convert", "tests.runtime.conformance.convert.ModelStore",
            "tests.pythons", "onnx", "keras.layers"} <= names


def test_follow_reaches_host_libraries_through_test_helpers_but_not_lazy_runtime_imports():
    # the conformance store converts with TensorFlow inside its methods: a test using it is host
    assert "tensorflow" in hostlane.follow({"tests.runtime.conformance.convert"})
    # the runtime imports LiteRT lazily, by design: importing it does not make a test host
    assert hostlane.follow({"edgewise.runtime", "edgewise.runtime.model"}) == frozenset()
    assert hostlane.follow({"edgewise.converters"}) == {"edgewise.converters"}  # host by purpose


def test_module_that_needs_a_missing_library_at_import_is_named(tmp_path, monkeypatch):
    fake = hostlane.ROOTS["tests"] / "_hostlane_probe_tmp.py"
    fake.write_text("import numpy\nimport surely_not_installed_anywhere\n")
    try:
        assert hostlane.missing_at_import(fake) == {"surely_not_installed_anywhere": "not installed"}
        fake.write_text("import numpy\ndef test():\n    import surely_not_installed_anywhere\n")
        hostlane._tree.cache_clear()
        assert hostlane.missing_at_import(fake) == {}  # imported when the test runs, not at collection
    finally:
        fake.unlink()
        hostlane._tree.cache_clear()

"""Which tests need the host side (TensorFlow, onnx, onnxruntime, LiteRT, paramiko, scikit-learn, ...).

The device lane (`pytest -m "not host and not slow"` with only NumPy and pytest installed) must be
real without every author remembering `@pytest.mark.host`, so tests/conftest.py derives the marker
from the code: a test is `host` when the code it runs imports a module that is neither the standard
library, NumPy, pytest nor edgewise. "The code it runs" is read statically with `ast`:

- the test's own body, its module's top-level statements and the module's helper functions
  (everything in the module but the other tests);
- the body of every fixture in its closure (with the module-level helpers it uses by name, and
  the top level of its module unless that is a conftest), including fixtures fetched by
  `request.getfixturevalue("name")`; the third-party imports at the top of every conftest.py
  above the test;
- transitively, every module of `tests/` those import (all of it: test helpers convert lazily) and
  the top-level imports of every `edgewise` module they import (edgewise imports its host
  libraries lazily on purpose, so only what runs at import counts), except the packages that are
  host-only by purpose (HOST_PACKAGES).

`pytest.importorskip("x")` counts as importing x. A test module whose import itself would fail for
want of a host library is skipped at collection with the reason, rather than erroring.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, Optional, Set

REPO = Path(__file__).resolve().parents[1]
# The import name of each top-level folder (setup.py's mapping) and of the test tree.
ROOTS = {
    "edgewise.runtime": REPO / "runtime",
    "edgewise.converters": REPO / "converters",
    "edgewise.device_tests": REPO / "device_tests",
    "edgewise": REPO / "sdk",
    "tests": REPO / "tests",
}
DEVICE_SIDE = {"numpy", "pytest", "_pytest", "edgewise", "tests"}
# edgewise packages that exist to drive TensorFlow/onnx: importing one means the test is host.
HOST_PACKAGES = ("edgewise.converters", "edgewise.compress", "edgewise.pipeline", "edgewise.demo")
_STDLIB_DIRS = tuple(os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib"))


@lru_cache(maxsize=None)
def is_third_party(top: str) -> bool:
    """True for a top-level module that is not stdlib, NumPy, pytest or edgewise (installed or not)."""
    if top in DEVICE_SIDE:
        return False
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return True
    if spec is None:
        return True  # not installed: the stdlib always is
    origin = spec.origin or (list(spec.submodule_search_locations or [""])[0])
    if origin in ("built-in", "frozen"):
        return False
    real = os.path.realpath(origin)
    return not real.startswith(_STDLIB_DIRS) or "site-packages" in real or "dist-packages" in real


def is_host_module(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in HOST_PACKAGES) or is_third_party(name.split(".")[0])


def module_file(name: str) -> Optional[Path]:
    """The source file of a repo module `name` ("edgewise.fileio", "tests.sdk.trained"), or None."""
    for root, folder in ROOTS.items():
        if name == root or name.startswith(root + "."):
            rel = name[len(root):].lstrip(".").split(".") if name != root else []
            base = folder.joinpath(*rel) if rel else folder
            if (base / "__init__.py").is_file():
                return base / "__init__.py"
            if base.with_suffix(".py").is_file():
                return base.with_suffix(".py")
            return None
    return None


def module_name(path: Path) -> Optional[str]:
    path = path.resolve()
    for root, folder in sorted(ROOTS.items(), key=lambda kv: -len(str(kv[1]))):
        try:
            rel = path.relative_to(folder)
        except ValueError:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join([root, *parts])
    return None


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(nodes: Iterable[ast.AST], current: str, is_package: bool) -> Set[str]:
    """Absolute names imported by `nodes` (walked fully), `from x import y` giving both x and x.y."""
    package = current if is_package else current.rpartition(".")[0]
    out: Set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                out.add(mod)
                out.update(f"{mod}.{a.name}" for a in node.names if a.name != "*")
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
                  == "importorskip" and node.args and isinstance(node.args[0], ast.Constant)):
                out.add(str(node.args[0].value))
    return out


def _top_level(tree: ast.Module) -> list:
    """Module statements with function and class bodies left out (what runs at import)."""
    return [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


@lru_cache(maxsize=None)
def _direct_imports(name: str, whole: bool) -> FrozenSet[str]:
    """What repo module `name` imports: all of it if `whole`, else its top level."""
    path = module_file(name)
    if path is None:
        return frozenset()
    tree = _tree(path)
    nodes = tree.body if whole else _top_level(tree)
    return frozenset(_imports(nodes, name, path.name == "__init__.py"))


def follow(names: Iterable[str], seen: FrozenSet[str] = frozenset(), stop_at_host_packages: bool = True,
           at_import: bool = False) -> FrozenSet[str]:
    """The host modules among `names` and among what the repo modules in `names` import, transitively.

    Modules of tests/ count whole (their helpers run lazily for the test), edgewise modules by
    their top level; `at_import`: every module by its top level (what importing them runs).
    """
    found: Set[str] = set()
    visited: Set[str] = set(seen)
    todo = list(names)
    while todo:
        n = todo.pop()
        if not n or n in visited:
            continue
        visited.add(n)
        top = n.split(".")[0]
        if top not in ("edgewise", "tests"):
            if is_third_party(top):
                found.add(top)
        elif stop_at_host_packages and is_host_module(n):
            found.add(n)
        else:
            todo.extend(_direct_imports(n, whole=top == "tests" and not at_import))
    return frozenset(found)


def _function_node(func) -> Optional[ast.AST]:
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    path = Path(code.co_filename)
    if module_name(path) is None:
        return None
    for node in ast.walk(_tree(path.resolve())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func.__name__ and (
                node.lineno == code.co_firstlineno or any(d.lineno == code.co_firstlineno for d in node.decorator_list)):
            return node
    return None


def _fetched_fixtures(node: ast.AST) -> Set[str]:
    return {n.args[0].value for n in ast.walk(node)
            if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "getfixturevalue"
            and n.args and isinstance(n.args[0], ast.Constant)}


def _fixture_imports(fd) -> Set[str]:
    """What a fixture's body imports, plus its module's top level when that is not a conftest."""
    return _function_imports(inspect.unwrap(fd.func))


@lru_cache(maxsize=None)
def _function_imports(func) -> FrozenSet[str]:
    node = _function_node(func)
    if node is None:
        return frozenset()
    path = Path(func.__code__.co_filename).resolve()
    where = module_name(path) or ""
    tree = _tree(path)
    names = _imports(_with_local_helpers(tree, node), where, False)
    if path.name != "conftest.py":
        names |= _imports(_top_level(tree), where, path.name == "__init__.py")
    return frozenset(names)


def _with_local_helpers(tree: ast.Module, node: ast.AST) -> list:
    """`node` and the module-level functions and classes it uses by name, transitively."""
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    out, todo, seen = [], [node], set()
    while todo:
        n = todo.pop()
        out.append(n)
        for name in {x.id for x in ast.walk(n) if isinstance(x, ast.Name)}:
            if name in defs and name not in seen:
                seen.add(name)
                todo.append(defs[name])
    return out


_ITEM_CACHE: Dict[tuple, FrozenSet[str]] = {}


def host_imports_of_item(item) -> FrozenSet[str]:
    """The host modules a collected test runs (see the module docstring)."""
    test_name = getattr(item, "originalname", None) or item.name.split("[")[0]
    key = (str(item.fspath), test_name, tuple(getattr(item, "fixturenames", ())))
    if key not in _ITEM_CACHE:  # parametrized cases share the answer
        _ITEM_CACHE[key] = _host_imports_of_item(item, test_name)
    return _ITEM_CACHE[key]


def _host_imports_of_item(item, test_name: str) -> FrozenSet[str]:
    path = Path(str(item.fspath)).resolve()
    mod = module_name(path)
    if mod is None:
        return frozenset()
    tree = _tree(path)
    nodes = [n for n in tree.body if not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                                          and n.name.startswith("test") and n.name != test_name)]
    names = _imports(nodes, mod, path.name == "__init__.py")
    for conftest in _conftests_above(path):
        names |= {n for n in _imports(_top_level(_tree(conftest)), module_name(conftest) or "", False)
                  if n.split(".")[0] not in ("edgewise", "tests")}
    fetched = set()
    test_node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.name == test_name), None)
    if test_node is not None:
        fetched = _fetched_fixtures(test_node)
    todo = list(getattr(item, "fixturenames", ())) + sorted(fetched)
    done: Set[str] = set()
    while todo:
        fixture = todo.pop()
        if fixture in done:
            continue
        done.add(fixture)
        for fd in _lookup(item, fixture):
            names |= _fixture_imports(fd)
            node = _function_node(fd.func)
            if node is not None:
                todo.extend(_fetched_fixtures(node))
            todo.extend(getattr(fd, "argnames", ()))
    return follow(names, seen=frozenset({mod}))


def _lookup(item, fixture: str):
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get(fixture) if info is not None else None
    if defs is None:
        defs = item.session._fixturemanager.getfixturedefs(fixture, item)
    return list(defs or ())


def _conftests_above(path: Path):
    tests_root = ROOTS["tests"]
    folder = path.parent
    while True:
        c = folder / "conftest.py"
        if c.is_file():
            yield c
        if folder == tests_root or tests_root not in folder.parents:
            return
        folder = folder.parent


def missing_at_import(path: Path) -> Dict[str, str]:
    """{host module: why} for the host modules that importing test module `path` needs and lacks."""
    mod = module_name(path)
    if mod is None:
        return {}
    tree = _tree(path.resolve())
    names = _imports(_top_level(tree), mod, path.name == "__init__.py")
    out = {}
    for n in follow(names, seen=frozenset({mod}), stop_at_host_packages=False, at_import=True):
        top = n.split(".")[0]
        if top != "edgewise" and importlib.util.find_spec(top) is None:
            out[top] = "not installed"
    return out

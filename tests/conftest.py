"""Fixtures and hooks shared across the test tree.

Hooks: the `host` marker is derived from what each test imports (tests/hostlane.py), so the device
lane `pytest -m "not host and not slow"` runs with NumPy and pytest alone; a test module that
cannot even be imported there is skipped at collection with the missing module named. The run's
summary names the Pythons the multi-Python tests could not find (tests/pythons.py).
"""
from pathlib import Path

import pytest

from . import hostlane, pythons
from .device_tests.sshd import start_sshd, stop_sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on a free loopback port, with its own host key, user and client key."""
    pytest.importorskip("paramiko")  # the client side of every SSH test: the host extra
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)


class _HostOnlyModule(pytest.Module):
    """A test module whose import needs a host library that is not installed: one skip, with why."""

    reason = ""

    def collect(self):
        pytest.skip(self.reason)


def pytest_pycollect_makemodule(module_path, parent):
    missing = hostlane.missing_at_import(Path(module_path))
    if missing:
        module = _HostOnlyModule.from_parent(parent, path=Path(module_path))
        extras = ",".join(sorted({m if m in ("torch", "onnx2tf") else "host" for m in missing}))
        module.reason = (f"{Path(module_path).name} needs edgewise[{extras}]: "
                         f"{', '.join(sorted(missing))} not installed")
        return module
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("host") is None and hostlane.host_imports_of_item(item):
            item.add_marker(pytest.mark.host)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    exc = call.excinfo.value if call.excinfo is not None else None
    if (report.failed and isinstance(exc, ModuleNotFoundError) and exc.name
            and item.get_closest_marker("host") is None and hostlane.is_third_party(exc.name.split(".")[0])):
        report.sections.append(("host lane", f"{exc.name} is a host library but tests/hostlane.py did not see this "
                                             f"test import it: mark the test @pytest.mark.host"))


def pytest_terminal_summary(terminalreporter):
    line = pythons.summary_line()
    if line:
        terminalreporter.write_line(line, yellow=True, bold=True)

"""Fixtures shared across the test tree."""
import pytest

from .device_tests.sshd import start_sshd, stop_sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on a free loopback port, with its own host key, user and client key."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)

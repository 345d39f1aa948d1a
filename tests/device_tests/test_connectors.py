"""The connector operations over the real sshd and locally."""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from edgewise.device_tests.connectors import LocalConnector, connect
from edgewise.device_tests.connectors.ssh import SSHTarget
from edgewise.device_tests.errors import CommandTimeoutError, ConnectError


@pytest.fixture
def ssh(sshd):
    with connect(sshd.device, identity=sshd.identity, known_hosts=sshd.known_hosts) as c:
        yield c


@pytest.fixture(params=["local", "ssh"])
def conn(request):
    if request.param == "local":
        yield LocalConnector()
    else:
        yield request.getfixturevalue("ssh")


def test_run_shell_command_status_streams_and_lines(conn):
    seen = []
    r = conn.run_shell_command("echo one; echo oops >&2; printf 'two\\nthree'; exit 7", on_stdout_line=seen.append)
    assert (r.exit_status, r.stdout, r.stderr) == (7, "one\ntwo\nthree", "oops\n")
    assert seen == ["one", "two", "three"] and not r.ok


def test_timeout_stops_the_command(conn):
    t0 = time.monotonic()
    with pytest.raises(CommandTimeoutError, match="0.5 s limit"):
        conn.run_shell_command("sleep 20", timeout=0.5)
    assert time.monotonic() - t0 < 5


def test_put_and_get_binary_files(conn, tmp_path):
    data = bytes(range(256)) * 4096 + os.urandom(100_000)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    remote = str(tmp_path / "remote dir" / "copy 'of' $x.bin")
    conn.put_file(str(src), remote)
    back = tmp_path / "back.bin"
    conn.get_file(remote, str(back))
    assert back.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "remote dir").iterdir()) == ["copy 'of' $x.bin"]


def test_wrong_client_key_is_a_login_error(sshd, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    with pytest.raises(ConnectError, match=f"login as '{sshd.user}' failed"):
        connect(sshd.device, identity=str(stranger), known_hosts=sshd.known_hosts)


@pytest.mark.host  # the SSH client is paramiko (imported lazily by the connector)
def test_closed_port_is_a_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(ConnectError, match=f"127.0.0.1:{port}: cannot connect"):
            connect(f"ssh://someone@127.0.0.1:{port}", known_hosts=os.devnull, connect_timeout=3)


def test_ssh_targets():
    assert SSHTarget.parse("ssh://pi@raspberrypi.local") == SSHTarget("pi", "raspberrypi.local", 22)
    assert SSHTarget.parse("ssh://u@[fe80::1]:2222") == SSHTarget("u", "fe80::1", 2222)
    assert str(SSHTarget("u", "fe80::1", 2222)) == "ssh://u@[fe80::1]:2222"
    for bad in ("pi@host", "ssh://pi@host:99999", "ssh://pi@host/path", "ssh://", "ssh://pi@host?x=1"):
        with pytest.raises(ValueError):
            SSHTarget.parse(bad)
    with pytest.raises(ValueError, match="unknown device"):
        connect("adb://phone")


def test_missing_sshd_fails_loudly(tmp_path, monkeypatch):
    from . import sshd as sshd_module

    monkeypatch.setattr(sshd_module, "SSHD_CANDIDATES", ())
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y openssh-server"):
        sshd_module.start_sshd(tmp_path)

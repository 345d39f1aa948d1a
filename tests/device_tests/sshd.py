"""A real OpenSSH server on 127.0.0.1 for the device tests: its own host key, a fresh client key.

sshd runs as the current user in the foreground (`sshd -D -e`), so it can only log that user in.
When sshd is not installed the fixture FAILS with the command that installs it: a silent skip
would hide that the SSH path was never tested.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List

import pytest

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


@dataclass
class SshServer:
    port: int
    user: str
    identity: str  # the client's private key, authorised on the server
    host_key_line: str  # "ssh-ed25519 AAAA..." of the server
    known_hosts: str  # a known_hosts file holding exactly the server's key
    folder: Path
    proc: subprocess.Popen
    log: Path
    address: str = "127.0.0.1"

    @property
    def device(self) -> str:
        return f"ssh://{self.user}@{self.address}:{self.port}"

    @property
    def host_entry(self) -> str:
        return f"[{self.address}]:{self.port}"

    def session_pids(self) -> List[int]:
        """sshd processes serving connections: every sshd descendant of the listening daemon."""
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1: stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append((int(entry), comm))
        found, todo = [], [self.proc.pid]
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                todo.append(pid)
                if comm == "sshd":
                    found.append(pid)
        return found

    def drop_sessions(self) -> int:
        """SIGKILL the per-connection sshd processes: the TCP link dies as on a pulled cable."""
        pids = self.session_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgewise-test", "-f", str(path)],
                   check=True, capture_output=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def start_sshd(folder: Path, address: str = "127.0.0.1", wrap: tuple = (), port: int = 0,
               client_key: Path = None) -> SshServer:
    """`address` to listen on; `wrap` prefixes the sshd command (["ip", "netns", "exec", NS] runs
    it in a network namespace); `client_key` reuses one client key for many servers."""
    sshd = next((p for p in SSHD_CANDIDATES if os.path.exists(p)), None) or shutil.which("sshd")
    if sshd is None or shutil.which("ssh-keygen") is None:
        pytest.fail(
            "the SSH device tests need a real OpenSSH server and ssh-keygen, and neither /usr/sbin/sshd nor "
            "ssh-keygen was found. Install them: apt-get install -y openssh-server (Debian/Ubuntu)",
            pytrace=False,
        )
    import getpass

    user = getpass.getuser()
    host_key_line = _keygen(folder / "host_ed25519")
    if client_key is None:
        client_key = folder / "client_ed25519"
        _keygen(client_key)
    client_pub = " ".join(client_key.with_suffix(".pub").read_text().split()[:2])
    (folder / "authorized_keys").write_text(client_pub + "\n")
    known = folder / "known_hosts"
    port = port or _free_port()
    known.write_text(f"[{address}]:{port} {host_key_line}\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # the privilege separation directory
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress {address}",
                f"HostKey {folder / 'host_ed25519'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                f"PidFile {folder / 'sshd.pid'}",
                f"AllowUsers {user}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "UseDNS no",
                "PrintMotd no",
                "MaxStartups 50",
                "LogLevel INFO",
                "",
            ]
        )
    )
    check = subprocess.run([sshd, "-t", "-f", str(config), "-p", str(port)], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail(f"sshd rejected the test configuration {config}: {check.stderr.strip()}", pytrace=False)
    log = folder / "sshd.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([*wrap, sshd, "-D", "-e", "-f", str(config), "-p", str(port)], stdout=logf,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with status {proc.returncode}: {log.read_text()[-2000:]}", pytrace=False)
        try:
            with socket.create_connection((address, port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"sshd did not answer on port {port} within 15 s: {log.read_text()[-2000:]}", pytrace=False)
        time.sleep(0.1)
    return SshServer(port, user, str(client_key), host_key_line, str(known), folder, proc, log, address)


def stop_sshd(server: SshServer) -> None:
    server.drop_sessions()
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()

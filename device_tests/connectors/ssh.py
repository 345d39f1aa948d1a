"""SSH to a device with paramiko: verified host keys, key-based login, streamed command output.

Files travel over the exec channel (`cat > tmp && mv tmp dest`) rather than SFTP, so devices
whose SSH server has no sftp subsystem (dropbear on small boards) work too.
"""
from __future__ import annotations

import getpass
import os
import posixpath
import secrets
import shlex
import socket
import time
from dataclasses import dataclass
from typing import IO, Optional, Tuple
from urllib.parse import urlsplit

from edgewise.fileio import write_bytes_atomic
from ..errors import CommandTimeoutError, ConnectError, ConnectionLostError, HostKeyError, LoginError
from .base import BaseConnector, CommandResult, LineCallback, LineSplitter
from .known_hosts import bad_key_error, host_entry_name, make_policy

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


@dataclass(frozen=True)
class SSHTarget:
    """user@host:port, parsed from "ssh://USER@HOST[:PORT]" (IPv6 hosts in brackets)."""

    user: str
    host: str
    port: int = 22

    @classmethod
    def parse(cls, device: str) -> "SSHTarget":
        if not device.startswith("ssh://"):
            raise ValueError(f"not an ssh device {device!r}; expected ssh://USER@HOST[:PORT]")
        parts = urlsplit(device)
        try:
            port = parts.port or 22
        except ValueError:
            raise ValueError(f"{device!r}: the port is not a number in 1..65535") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise ValueError(f"{device!r}: expected ssh://USER@HOST[:PORT]")
        return cls(parts.username or getpass.getuser(), parts.hostname, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ssh://{self.user}@{host}:{self.port}"


class SSHConnector(BaseConnector):
    """A device reached over SSH. Opened on construction; close() (or `with`) ends the session."""

    def __init__(
        self,
        device: str,
        *,
        identity: Optional[str] = None,
        known_hosts: Optional[str] = None,
        accept_new_host_key: bool = False,
        connect_timeout: float = 15.0,
        keepalive_s: int = 5,
        dead_link_s: float = 30.0,
        jump: Optional["SSHConnector"] = None,
    ):
        """`jump`: an open connector to a jump host; the device is reached through a
        direct-tcpip channel it opens (OpenSSH's ProxyJump), and closed with this connector.

        A cut link is noticed within about `dead_link_s`: keepalives every `keepalive_s` keep
        data in flight, and TCP_USER_TIMEOUT (Linux, RFC 5482) closes a connection whose data
        stays unacknowledged that long, so a running command ends with ConnectionLostError
        instead of waiting for TCP's ~15-minute retransmission limit."""
        from edgewise._extras import require

        paramiko = require("paramiko", "benchmarking over SSH")
        self.target = SSHTarget.parse(device)
        self.name = str(self.target)
        self.known_hosts = os.path.expanduser(known_hosts or DEFAULT_KNOWN_HOSTS)
        self._connect_timeout = connect_timeout
        client = paramiko.SSHClient()
        if os.path.exists(self.known_hosts):
            try:
                client.load_host_keys(self.known_hosts)
            except (OSError, paramiko.SSHException, ValueError) as e:
                raise ConnectError(f"{self.name}: cannot read the known_hosts file {self.known_hosts}: {e}") from None
        client.set_missing_host_key_policy(make_policy(paramiko, self.known_hosts, accept_new_host_key))
        t = self.target
        self._jump = jump
        sock = None
        if jump is not None:
            try:
                sock = jump._transport.open_channel("direct-tcpip", (t.host, t.port), ("127.0.0.1", 0),
                                                    timeout=connect_timeout)
            except (paramiko.SSHException, OSError, EOFError) as e:
                client.close()
                raise ConnectError(f"{self.name}: cannot reach it through the jump host {jump.name}: "
                                   f"{e or type(e).__name__}") from None
            self.name = f"{self.name} (via {jump.name})"
        try:
            client.connect(
                t.host,
                port=t.port,
                username=t.user,
                key_filename=os.path.expanduser(identity) if identity else None,
                look_for_keys=identity is None,
                allow_agent=identity is None,
                timeout=connect_timeout,
                banner_timeout=connect_timeout,
                auth_timeout=connect_timeout,
                channel_timeout=connect_timeout,
                sock=sock,
            )
        except HostKeyError:
            client.close()
            raise
        except paramiko.BadHostKeyException as e:
            client.close()
            raise bad_key_error(host_entry_name(t.host, t.port), self.known_hosts, e.key, e.expected_key) from None
        except paramiko.AuthenticationException as e:
            client.close()
            how = f"with the key {identity}" if identity else "with the default keys and the ssh agent"
            raise LoginError(f"{self.name}: login as {t.user!r} failed {how}: {e}") from None
        except (paramiko.SSHException, OSError) as e:
            client.close()
            raise ConnectError(f"{self.name}: cannot connect: {e or type(e).__name__}") from None
        self._client = client
        self._transport = client.get_transport()
        self._transport.set_keepalive(keepalive_s)
        raw = self._transport.sock
        if isinstance(raw, socket.socket) and hasattr(socket, "TCP_USER_TIMEOUT"):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(dead_link_s * 1000))

    def close(self) -> None:
        self._client.close()
        if self._jump is not None:
            self._jump.close()

    # -- the three operations ---------------------------------------------------------------
    def run_shell_command(
        self,
        command: str,
        *,
        timeout: Optional[float] = 60.0,
        on_stdout_line: Optional[LineCallback] = None,
    ) -> CommandResult:
        status, out, err = self._exec(command, timeout, on_stdout_line, None)
        return CommandResult(command, status, out.finish(), err.decode("utf-8", errors="replace"))

    def put_file(self, local_path: str, remote_path: str) -> None:
        folder = posixpath.dirname(remote_path) or "."
        tmp = f"{remote_path}.part-{secrets.token_hex(4)}"
        q = shlex.quote
        cmd = f"mkdir -p {q(folder)} && cat > {q(tmp)} && mv -f {q(tmp)} {q(remote_path)}"
        size = os.path.getsize(local_path)
        with open(local_path, "rb") as f:
            status, _, err = self._exec(cmd, 60.0 + size / 100e3, None, f)
        if status != 0:
            self._exec(f"rm -f {q(tmp)}", 30.0, None, None)
            raise ConnectError(
                f"{self.name}: could not write {remote_path}: exit status {status}: "
                f"{err.decode('utf-8', errors='replace').strip()[-500:]}"
            )

    def get_file(self, remote_path: str, local_path: str) -> None:
        status, out, err = self._exec(f"cat {shlex.quote(remote_path)}", 300.0, None, None)
        if status != 0:
            raise ConnectError(
                f"{self.name}: could not read {remote_path}: {err.decode('utf-8', errors='replace').strip()[-500:]}"
            )
        write_bytes_atomic(local_path, b"".join(out.chunks))

    # -- one exec channel ---------------------------------------------------------------------
    def _exec(
        self, command: str, timeout: Optional[float], on_line: Optional[LineCallback], stdin: Optional[IO[bytes]]
    ) -> Tuple[int, LineSplitter, bytes]:
        if not self._transport.is_active():
            raise ConnectionLostError(f"{self.name}: the SSH connection is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            chan = self._transport.open_session(timeout=self._connect_timeout)
        except Exception as e:  # paramiko raises SSHException, EOFError or socket errors here
            raise ConnectionLostError(f"{self.name}: cannot open a channel: {e or type(e).__name__}") from None
        out = LineSplitter(on_line)
        err = []
        try:
            # The server runs the command with the user's login shell, which may not be POSIX
            # (fish, nushell): hand it to sh, as pyinfra does.
            chan.exec_command("sh -c " + shlex.quote(command))
            if stdin is not None:
                chan.settimeout(max(30.0, self._connect_timeout))  # a slow link may stall the window a while
                while True:
                    block = stdin.read(1 << 16)
                    if not block:
                        break
                    chan.sendall(block)
            chan.shutdown_write()
            chan.settimeout(0.25)  # short reads, so deadlines and a dead link are noticed
            while True:
                self._check(chan, deadline, timeout, command, out)
                while chan.recv_stderr_ready():
                    err.append(chan.recv_stderr(1 << 16))
                try:
                    data = chan.recv(1 << 16)
                except socket.timeout:
                    continue
                if not data:
                    break
                out.feed(data)
            while not chan.exit_status_ready():
                self._check(chan, deadline, timeout, command, out)
                time.sleep(0.02)
            while chan.recv_stderr_ready():
                err.append(chan.recv_stderr(1 << 16))
            status = chan.recv_exit_status()
            if status == -1 and not self._transport.is_active():
                raise self._lost(out)
            return status, out, b"".join(err)
        except (socket.error, EOFError) as e:
            if self._transport.is_active():
                raise
            raise self._lost(out, e) from None
        finally:
            chan.close()

    def _check(self, chan, deadline, timeout, command: str, out: LineSplitter) -> None:
        if not self._transport.is_active():
            raise self._lost(out)
        if deadline is not None and time.monotonic() > deadline:
            raise CommandTimeoutError(f"{self.name}: command ran past its {timeout:g} s limit: {command[:200]}")

    def _lost(self, out: LineSplitter, cause: Optional[BaseException] = None) -> ConnectionLostError:
        got = len(out.text().splitlines())
        why = f" ({cause})" if cause else ""
        return ConnectionLostError(f"{self.name}: the SSH connection dropped{why} after {got} lines of output")

"""The connector interface: run a shell command, put a file, get a file. Nothing else.

Modelled on pyinfra's `BaseConnector`: everything the harness does on a device (collect facts,
deploy the bundle, run the agent) is built from these three operations, so a new transport
(adb, serial console, a container) only has to implement them.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Optional

LineCallback = Callable[[str], None]


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind. `stdout` holds every line, even those streamed."""

    command: str
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def describe(self) -> str:
        """A one-paragraph account for error messages: status and the tail of stderr."""
        tail = self.stderr.strip().splitlines()[-5:]
        return f"exit status {self.exit_status}" + (": " + " | ".join(tail) if tail else "")


class BaseConnector(abc.ABC):
    """A device the harness can drive. Use as a context manager so the link is closed."""

    #: How the device is named in messages and results ("local", "ssh://pi@10.0.0.7:22").
    name: str = "device"

    @abc.abstractmethod
    def run_shell_command(
        self,
        command: str,
        *,
        timeout: Optional[float] = 60.0,
        on_stdout_line: Optional[LineCallback] = None,
    ) -> CommandResult:
        """Run `command` with the device's POSIX shell and wait for it.

        Each complete stdout line is passed to `on_stdout_line` as soon as it arrives, so a
        caller keeps what was received even if the link drops later (then ConnectionLostError).
        A command still running after `timeout` seconds raises CommandTimeoutError.
        """

    @abc.abstractmethod
    def put_file(self, local_path: str, remote_path: str) -> None:
        """Copy a host file to the device, atomically: the final name appears only when complete."""

    @abc.abstractmethod
    def get_file(self, remote_path: str, local_path: str) -> None:
        """Copy a device file to the host (atomically on the host side)."""

    def close(self) -> None:
        """Release the link. Connectors without one have nothing to do."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LineSplitter:
    """Cuts a byte stream into decoded lines for `on_stdout_line`, keeping a partial last line."""

    def __init__(self, callback: Optional[LineCallback]):
        self._callback = callback
        self._pending = b""
        self.chunks: list = []

    def feed(self, data: bytes) -> None:
        self.chunks.append(data)
        if self._callback is None:
            return
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._callback(line.decode("utf-8", errors="replace").rstrip("\r"))

    def finish(self) -> str:
        """End of a clean stream: deliver the last line even without its newline."""
        if self._callback is not None and self._pending:
            self._callback(self._pending.decode("utf-8", errors="replace").rstrip("\r"))
            self._pending = b""
        return self.text()

    def text(self) -> str:
        """Everything received so far (a cut-off last line is not delivered to the callback)."""
        return b"".join(self.chunks).decode("utf-8", errors="replace")

"""The host itself as the device: the same shell commands, run in a subprocess."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Optional

from ..errors import CommandTimeoutError
from edgewise.fileio import copy_file_atomic
from .base import BaseConnector, CommandResult, LineCallback, LineSplitter


class LocalConnector(BaseConnector):
    """Runs commands with /bin/sh on this machine, so `device="local"` measures the host."""

    name = "local"

    def run_shell_command(
        self,
        command: str,
        *,
        timeout: Optional[float] = 60.0,
        on_stdout_line: Optional[LineCallback] = None,
    ) -> CommandResult:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a timeout kills the whole process group, not just the shell
        )
        err_chunks: list = []
        err_reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
        err_reader.start()
        out = LineSplitter(on_stdout_line)
        deadline = None if timeout is None else time.monotonic() + timeout
        timer = None
        expired = threading.Event()
        if deadline is not None:
            def _expire():
                expired.set()
                _kill_group(proc)

            timer = threading.Timer(timeout, _expire)
            timer.daemon = True
            timer.start()
        try:
            while True:
                data = proc.stdout.read1(65536)
                if not data:
                    break
                out.feed(data)
            status = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
            err_reader.join(5)
            proc.stdout.close()
            proc.stderr.close()
        stderr = b"".join(err_chunks).decode("utf-8", errors="replace")
        if expired.is_set():
            raise CommandTimeoutError(f"local: command ran past its {timeout:g} s limit: {command[:200]}")
        return CommandResult(command, status, out.finish(), stderr)

    def put_file(self, local_path: str, remote_path: str) -> None:
        copy_file_atomic(local_path, os.path.expanduser(remote_path))

    def get_file(self, remote_path: str, local_path: str) -> None:
        copy_file_atomic(os.path.expanduser(remote_path), local_path)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

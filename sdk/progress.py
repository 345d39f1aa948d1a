"""Progress lines for anything that takes longer than a second.

A progress callback is a plain `Callable[[str], None]` called with a short message at the start
of each step; the CLI's `StepPrinter` stamps each line with the elapsed time on stderr, so that
`--json` output on stdout stays clean.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """A progress callback that prints nothing."""


class StepPrinter:
    def __init__(self, stream: Optional[TextIO] = None):
        self._stream = stream or sys.stderr
        self._t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        elapsed = time.perf_counter() - self._t0
        self._stream.write(f"[{elapsed:6.1f}s] {message}\n")
        self._stream.flush()

"""Progress lines for anything that takes longer than a second.

A progress callback is a plain `Callable[[str], None]` called with a short message at the start
of each step; the CLI's `StepPrinter` stamps each line with the elapsed time on stderr, so that
`--json` output on stdout stays clean.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Callable, Iterator, Optional, TextIO

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


@contextlib.contextmanager
def native_output_to(log_path: str) -> Iterator[TextIO]:
    """Send everything written to file descriptors 1 and 2 into `log_path` for the duration.

    TensorFlow, LiteRT and tf2onnx print from C++ and from Python straight to stdout/stderr
    ("fully_quantize: 0, ...", "Created TensorFlow Lite XNNPACK delegate", "Saved artifact at");
    a user wants the progress lines and the result, with the chatter kept in a log. Yields a
    stream on the original stderr for progress lines.
    """
    folder = os.path.dirname(os.path.abspath(log_path))
    os.makedirs(folder, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log = open(log_path, "ab")
    console = os.fdopen(os.dup(saved_err), "w", buffering=1)
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        console.close()
        log.close()

"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The bytes go to a temporary file in the destination's own folder (so `os.replace` is a rename on
one file system, which POSIX and Windows both make atomic), are flushed to disk, then renamed over
the destination. If anything fails before the rename, the temporary file is removed and the
previous artifact is untouched.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Callable, Iterator


@contextlib.contextmanager
def atomic_path(path: "str | os.PathLike", suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is deleted.

    For writers that insist on a file name of their own (converters, `model.export`). `suffix`
    keeps an extension some writers look at (".onnx").
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp" + suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        if os.path.isfile(tmp):
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path: "str | os.PathLike", data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path: "str | os.PathLike", text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: "str | os.PathLike", write: Callable[[str], None], suffix: str = "") -> None:
    """Let `write(tmp_path)` produce the file, then move it over `path` atomically."""
    with atomic_path(path, suffix) as tmp:
        write(tmp)

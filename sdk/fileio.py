"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The bytes go to a temporary file in the destination's own folder (so `os.replace` is a rename on
one file system, which POSIX makes atomic), are flushed to disk, then renamed over the
destination. If anything fails before the rename, the temporary file is removed and the previous
file is untouched. New files get the usual permissions (0666 less the umask), not mkstemp's 0600,
unless a mode is given.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Union

import numpy as np


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: "str | os.PathLike", suffix: str = "", mode: Optional[int] = None) -> Iterator[str]:
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
            os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path: "str | os.PathLike", data: bytes, mode: Optional[int] = None) -> None:
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text_atomic(path: "str | os.PathLike", text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: "str | os.PathLike", obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def copy_file_atomic(src: "str | os.PathLike", dst: "str | os.PathLike") -> None:
    with atomic_path(dst) as tmp:
        with open(tmp, "wb") as out, open(src, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)


def save_arrays_atomic(path: str, arrays: Union[List[np.ndarray], Dict[str, np.ndarray]]) -> None:
    """One array -> .npy; several (or a dict) -> .npz, chosen by the file's extension."""
    buf = io.BytesIO()
    if path.endswith(".npz"):
        named = arrays if isinstance(arrays, dict) else {f"output_{i}": a for i, a in enumerate(arrays)}
        np.savez(buf, **named)
    else:
        if isinstance(arrays, dict) or len(arrays) != 1:
            raise ValueError(f"{path}: the model has several outputs; use a .npz output file")
        np.save(buf, arrays[0])
    write_bytes_atomic(path, buf.getvalue())

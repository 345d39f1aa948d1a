"""Atomic writes: a reader sees the old file or the new one, never half of one."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np


def write_bytes_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def save_arrays_atomic(path: str, arrays: "list[np.ndarray] | dict") -> None:
    """One array -> .npy; several (or a dict) -> .npz, chosen by the file's extension."""
    import io

    buf = io.BytesIO()
    if path.endswith(".npz"):
        named = arrays if isinstance(arrays, dict) else {f"output_{i}": a for i, a in enumerate(arrays)}
        np.savez(buf, **named)
    else:
        if isinstance(arrays, dict) or len(arrays) != 1:
            raise ValueError(f"{path}: the model has several outputs; use a .npz output file")
        np.save(buf, arrays[0])
    write_bytes_atomic(path, buf.getvalue())

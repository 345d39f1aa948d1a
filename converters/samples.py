"""The user's data as the converters use it: one batch-first array per source input, by input name.

A calibration or evaluation `.npz` holds either `x` (single-input models; `y`, labels, is ignored
here) or one array per input name. Calibration sets int8 ranges; both sets verify every artifact.
"""
from __future__ import annotations

import os
import zipfile
from typing import Dict, Mapping, Sequence, Union

import numpy as np

Feeds = Dict[str, np.ndarray]
SampleSource = Union[np.ndarray, Mapping[str, np.ndarray], str, os.PathLike]
LABEL_KEYS = ("y",)


def load_npz(path: "str | os.PathLike") -> Dict[str, np.ndarray]:
    """Every array of an .npz file, read without pickles; errors name the file."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None


def as_feeds(data: SampleSource, input_names: Sequence[str], what: str) -> Feeds:
    """`data` bound to the source's inputs by name: {input name: batch-first array}.

    Accepts an array (single-input models), a mapping, or an .npz path. With one input, the key
    `x` or the input's name is used; with several, every input name must be a key.
    """
    if isinstance(data, (str, os.PathLike)):
        what = os.fspath(data)
        data = load_npz(data)
    names = list(input_names)
    if isinstance(data, Mapping):
        arrays = {k: np.asarray(v) for k, v in data.items() if k not in LABEL_KEYS or k in names}
        if len(names) == 1 and names[0] not in arrays:
            if "x" not in arrays:
                raise ValueError(f"{what}: holds {sorted(arrays)}; expected 'x' or {names[0]!r} for the model's input")
            arrays = {names[0]: arrays["x"]}
        missing = [n for n in names if n not in arrays]
        if missing:
            raise ValueError(f"{what}: no array for input(s) {missing}; it holds {sorted(arrays)} "
                             f"(one array per input name is needed: {names})")
        feeds = {n: arrays[n] for n in names}
    else:
        if len(names) != 1:
            raise ValueError(f"{what}: the model has {len(names)} inputs {names}; give one array per input name")
        feeds = {names[0]: np.asarray(data)}
    counts = {n: (a.shape[0] if a.ndim else 0) for n, a in feeds.items()}
    if not all(counts.values()):
        raise ValueError(f"{what}: every input needs a non-empty batch (N, ...); got shapes "
                         f"{ {n: a.shape for n, a in feeds.items()} }")
    if len(set(counts.values())) != 1:
        raise ValueError(f"{what}: inputs hold different sample counts {counts}")
    return feeds


def count(feeds: Feeds) -> int:
    return int(next(iter(feeds.values())).shape[0]) if feeds else 0


def take(feeds: Feeds, start: int, stop: int) -> Feeds:
    return {n: a[start:stop] for n, a in feeds.items()}


def as_float(feeds: Feeds) -> Feeds:
    """Float inputs as float32 (calibration files often hold float64); integer inputs (token ids) as they are."""
    return {n: (a.astype(np.float32) if a.dtype.kind == "f" else a) for n, a in feeds.items()}


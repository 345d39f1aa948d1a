"""Read the inputs of `edgewise run` from .npy / .npz files, naming the file and array at fault."""
from __future__ import annotations

import os
import zipfile
from typing import Dict, List, Union

import numpy as np


def load_input_file(path: str, input_names: List[str]) -> Union[np.ndarray, Dict[str, np.ndarray]]:
    """A .npy holds the one input; a .npz holds arrays named like the inputs (or `x` for one input)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such input file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npy/.npz file ({e})") from None
    if isinstance(loaded, np.ndarray):
        if len(input_names) != 1:
            raise ValueError(f"{path}: the model has {len(input_names)} inputs {input_names}; give a .npz with one array each")
        return loaded
    with loaded:
        names = list(loaded.files)
        if len(input_names) == 1 and input_names[0] not in names:
            if names == ["x"] or "x" in names:
                return loaded["x"]
            raise ValueError(f"{path}: expected an array named {input_names[0]!r} or 'x', found {names}")
        missing = [n for n in input_names if n not in names]
        if missing:
            raise ValueError(f"{path}: missing arrays for inputs {missing} (found {names})")
        return {n: loaded[n] for n in input_names}

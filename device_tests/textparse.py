"""Small tolerant helpers shared by the fact parsers: nothing here raises on odd input."""
from __future__ import annotations

import re
from typing import Dict, Optional

_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?")


def to_int(text) -> Optional[int]:
    """An integer from text such as "600000", " 42 ", "0x1f"; None when it is not one."""
    if text is None:
        return None
    s = str(text).strip().strip("\x00")
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    except ValueError:
        return None


def to_float(text) -> Optional[float]:
    if text is None:
        return None
    m = _NUM.search(str(text))
    return float(m.group(0)) if m else None


def clean(text) -> str:
    """Drop NUL bytes (device-tree strings end in one) and surrounding whitespace."""
    return str(text or "").replace("\x00", " ").strip()


def key_values(output: str, sep: str = ":") -> Dict[str, str]:
    """`Key<sep> value` lines into a dict (first occurrence wins); other lines are skipped."""
    out: Dict[str, str] = {}
    for line in (output or "").splitlines():
        if sep not in line:
            continue
        k, v = line.split(sep, 1)
        k = k.strip()
        if k and k not in out:
            out[k] = v.strip()
    return out


def kib_to_bytes(value: Optional[int]) -> Optional[int]:
    return None if value is None else value * 1024

"""The one switch for sparse weight plans: an explicit argument, else EDGEWISE_SPARSE."""
from __future__ import annotations

import os
from typing import Optional

ENV_SWITCH = "EDGEWISE_SPARSE"


def sparse_enabled(sparse: Optional[bool] = None) -> bool:
    """`sparse` if given, else the environment: EDGEWISE_SPARSE=0 (or false/off/no) keeps every layer dense."""
    if sparse is not None:
        return bool(sparse)
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")

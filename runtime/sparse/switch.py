"""The switches for sparse weight plans: an explicit argument, else the environment.

EDGEWISE_SPARSE=0 keeps every layer dense. EDGEWISE_SPARSE_TIMING=0 keeps sparse plans but chooses
them by the cost model of plan.py alone, without timing at load: the same file then gets the same
plans on every machine and every run (what tests assert on; timing decides nothing they check).
"""
from __future__ import annotations

import os
from typing import Optional

ENV_SWITCH = "EDGEWISE_SPARSE"
TIMING_SWITCH = "EDGEWISE_SPARSE_TIMING"
_OFF = ("0", "false", "off", "no")


def sparse_enabled(sparse: Optional[bool] = None) -> bool:
    """`sparse` if given, else the environment: EDGEWISE_SPARSE=0 (or false/off/no) keeps every layer dense."""
    if sparse is not None:
        return bool(sparse)
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in _OFF


def timing_enabled(timing: Optional[bool] = None) -> bool:
    """`timing` if given, else the environment: EDGEWISE_SPARSE_TIMING=0 plans by the cost model alone."""
    if timing is not None:
        return bool(timing)
    return os.environ.get(TIMING_SWITCH, "1").strip().lower() not in _OFF

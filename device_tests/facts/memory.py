"""Memory facts: /proc/meminfo, `free`, and a process's peak RSS from /proc/<pid>/status."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..textparse import key_values, to_int

#: A value past this many bytes (1 PiB) is a kernel accounting glitch, e.g. VmLib reported as
#: 18446744073709436460 kB after an unsigned underflow; it is dropped rather than believed.
IMPLAUSIBLE_BYTES = 1 << 50


def _kb_field(fields, name) -> Optional[int]:
    raw = fields.get(name)
    if raw is None:
        return None
    parts = raw.split()
    value = to_int(parts[0]) if parts else None
    if value is None:
        return None
    unit = parts[1].lower() if len(parts) > 1 else "kb"
    size = value * 1024 if unit == "kb" else value
    return size if 0 <= size < IMPLAUSIBLE_BYTES else None


@dataclass(frozen=True)
class MemInfo:
    total_bytes: Optional[int] = None
    available_bytes: Optional[int] = None
    swap_total_bytes: Optional[int] = None


def parse_meminfo(output: str) -> MemInfo:
    """/proc/meminfo. Kernels before 3.14 have no MemAvailable: MemFree + Buffers + Cached then."""
    f = key_values(output)
    avail = _kb_field(f, "MemAvailable")
    if avail is None:
        parts = [_kb_field(f, k) for k in ("MemFree", "Buffers", "Cached")]
        avail = sum(parts) if all(p is not None for p in parts) else None
    return MemInfo(_kb_field(f, "MemTotal"), avail, _kb_field(f, "SwapTotal"))


@dataclass(frozen=True)
class ProcessMemory:
    """From /proc/<pid>/status: peak (VmHWM) and current (VmRSS) resident set, in bytes."""

    peak_rss_bytes: Optional[int] = None
    rss_bytes: Optional[int] = None
    swap_bytes: Optional[int] = None


def parse_proc_status(output: str) -> ProcessMemory:
    f = key_values(output)
    return ProcessMemory(_kb_field(f, "VmHWM"), _kb_field(f, "VmRSS"), _kb_field(f, "VmSwap"))


@dataclass(frozen=True)
class SmapsRollup:
    """/proc/<pid>/smaps_rollup: proportional set size (Pss) shares shared pages fairly."""

    rss_bytes: Optional[int] = None
    pss_bytes: Optional[int] = None
    swap_bytes: Optional[int] = None


def parse_smaps_rollup(output: str) -> SmapsRollup:
    f = key_values(output)
    return SmapsRollup(_kb_field(f, "Rss"), _kb_field(f, "Pss"), _kb_field(f, "Swap"))

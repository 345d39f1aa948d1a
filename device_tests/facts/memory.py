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


def parse_free(output: str, unit_bytes: int = 1024) -> MemInfo:
    """`free` (KiB, the default; pass unit_bytes=1<<20 for `free -m`).

    procps-ng >= 3.3.10 prints an `available` column; older procps prints `buffers` and `cached`
    columns and a `-/+ buffers/cache:` line whose second number is what is free for programs.
    """
    header = None
    total = avail = swap = None
    for line in (output or "").splitlines():
        words = line.split()
        if not words:
            continue
        if header is None and words[0] == "total":
            header = words
            continue
        label = words[0].rstrip(":").lower()
        nums = [to_int(w) for w in words[1:]]
        if label == "mem" and nums and nums[0] is not None:
            total = nums[0] * unit_bytes
            if header and "available" in header:
                i = header.index("available")
                if i < len(nums) and nums[i] is not None:
                    avail = nums[i] * unit_bytes
        elif line.startswith("-/+ buffers/cache:"):
            rest = [to_int(w) for w in line.split(":", 1)[1].split()]
            if len(rest) >= 2 and rest[1] is not None:
                avail = rest[1] * unit_bytes
        elif label == "swap" and nums and nums[0] is not None:
            swap = nums[0] * unit_bytes
    return MemInfo(total, avail, swap)


@dataclass(frozen=True)
class ProcessMemory:
    """From /proc/<pid>/status: peak (VmHWM) and current (VmRSS) resident set, in bytes."""

    peak_rss_bytes: Optional[int] = None
    rss_bytes: Optional[int] = None
    swap_bytes: Optional[int] = None


def parse_proc_status(output: str) -> ProcessMemory:
    f = key_values(output)
    return ProcessMemory(_kb_field(f, "VmHWM"), _kb_field(f, "VmRSS"), _kb_field(f, "VmSwap"))


def status_field_bytes(output: str, name: str) -> Optional[int]:
    """Any `kB` field of /proc/<pid>/status, None if absent or implausible (see IMPLAUSIBLE_BYTES)."""
    return _kb_field(key_values(output), name)


@dataclass(frozen=True)
class SmapsRollup:
    """/proc/<pid>/smaps_rollup: proportional set size (Pss) shares shared pages fairly."""

    rss_bytes: Optional[int] = None
    pss_bytes: Optional[int] = None
    swap_bytes: Optional[int] = None


def parse_smaps_rollup(output: str) -> SmapsRollup:
    f = key_values(output)
    return SmapsRollup(_kb_field(f, "Rss"), _kb_field(f, "Pss"), _kb_field(f, "Swap"))

"""Clock, throttling and temperature: Raspberry Pi `vcgencmd`, cpufreq sysfs, thermal zones.

A benchmark on a board that throttles measures the throttling. These facts are read before and
after the run so a result can say that the clock was capped or the SoC was hot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..textparse import key_values, to_float, to_int

#: `vcgencmd get_throttled` bits (Raspberry Pi documentation, "vcgencmd" > get_throttled).
THROTTLED_BITS: Dict[int, str] = {
    0: "under-voltage detected",
    1: "arm frequency capped",
    2: "currently throttled",
    3: "soft temperature limit active",
    16: "under-voltage has occurred",
    17: "arm frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


@dataclass(frozen=True)
class Throttled:
    raw: int

    @property
    def flags(self) -> Tuple[str, ...]:
        return tuple(text for bit, text in sorted(THROTTLED_BITS.items()) if self.raw >> bit & 1)

    @property
    def now(self) -> bool:
        """Something limits the CPU right now (bits 0-3), not only at some time since boot."""
        return bool(self.raw & 0xF)


@dataclass(frozen=True)
class Vcgencmd:
    """Any of `get_throttled`, `measure_temp`, `measure_clock arm` outputs, in any order."""

    throttled: Optional[Throttled] = None
    temp_c: Optional[float] = None
    arm_hz: Optional[int] = None


def parse_vcgencmd(output: str) -> Vcgencmd:
    throttled = temp = clock = None
    for line in (output or "").splitlines():
        line = line.strip()
        if line.startswith("throttled=") and throttled is None:
            raw = to_int(line.partition("=")[2])
            throttled = Throttled(raw) if raw is not None else None
        elif line.startswith("temp=") and temp is None:
            temp = to_float(line.partition("=")[2])  # "temp=52.1'C"
        elif line.startswith("frequency(") and clock is None:
            clock = to_int(line.partition("=")[2])  # "frequency(48)=600169920"; the id differs by model
    return Vcgencmd(throttled, temp, clock)


@dataclass(frozen=True)
class CpuFreq:
    """cpu0's cpufreq policy: the governor and the clocks in kHz, as sysfs reports them."""

    governor: Optional[str] = None
    cur_khz: Optional[int] = None
    min_khz: Optional[int] = None
    max_khz: Optional[int] = None
    available_governors: Tuple[str, ...] = ()


def parse_governor(output: str) -> Optional[str]:
    word = (output or "").strip().split()
    return word[0] if word and re.match(r"^[a-z][a-z0-9_-]*$", word[0]) else None


def parse_cpufreq(output: str) -> CpuFreq:
    """`name=value` lines written by the cpufreq fact's command (one per sysfs file)."""
    f = key_values(output, "=")
    return CpuFreq(
        governor=parse_governor(f.get("scaling_governor", "")),
        cur_khz=to_int(f.get("scaling_cur_freq")),
        min_khz=to_int(f.get("scaling_min_freq")),
        max_khz=to_int(f.get("scaling_max_freq")),
        available_governors=tuple(f.get("scaling_available_governors", "").split()),
    )


@dataclass(frozen=True)
class ThermalZone:
    type: str
    temp_c: Optional[float]


#: Zones known to report a constant, not a measurement (Jetson L4T's PMIC-Die reads 100 C).
PLACEHOLDER_ZONES = ("PMIC-Die",)
#: Zone types that measure the CPU, most specific first.
CPU_ZONE_HINTS = ("cpu", "soc", "x86_pkg_temp", "bigcore", "littlecore")


def parse_thermal_zones(output: str) -> Tuple[ThermalZone, ...]:
    """`cat thermal_zone*/type; echo ---; cat thermal_zone*/temp`: line i of each half pairs up
    (the shell expands the glob in the same order twice). Temperatures are millidegrees C."""
    if "---" not in (output or ""):
        return ()
    types_part, temps_part = output.split("---", 1)
    types = [t.strip() for t in types_part.splitlines() if t.strip()]
    temps = [l.strip() for l in temps_part.splitlines() if l.strip()]
    if len(types) != len(temps):
        return ()
    zones = []
    for t, raw in zip(types, temps):
        milli = to_int(raw)
        zones.append(ThermalZone(t, None if milli is None else milli / 1000.0))
    return tuple(zones)


def cpu_temperature(zones: Tuple[ThermalZone, ...]) -> Optional[float]:
    """The CPU's temperature among the zones, skipping known placeholders; None if no CPU zone."""
    real = [z for z in zones if z.temp_c is not None and z.type not in PLACEHOLDER_ZONES]
    for hint in CPU_ZONE_HINTS:
        for z in real:
            if hint in z.type.lower():
                return z.temp_c
    return None

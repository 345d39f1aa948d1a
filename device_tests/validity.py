"""Validity flags: reasons a benchmark's figures may not describe the device at its steady best.

Each flag is a code and a sentence naming the evidence (a before/after pair, a register's bits).
A flagged result is still kept; reports show the flags beside the figures. The checks follow the
usual advice for benchmarking on small boards: fixed clocks (governor `performance`), no thermal
or under-voltage throttling (Raspberry Pi `vcgencmd get_throttled`), an idle machine, a battery
not being charged (its fuel gauge then reads the charge rate), and enough samples for every
percentile reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from edgewise.runtime.records import Record

HOT_C = 75.0  # most SoCs start to throttle between 80 and 85 degC
WARMED_C = 10.0
CLOCK_DROP = 0.9
BUSY_LOAD = 0.5
THROTTLED_NOW = 0xF  # under-voltage, frequency capped, throttled, soft temperature limit: right now
THROTTLED_SINCE_BOOT = 0xF0000


@dataclass(frozen=True)
class Flag(Record):
    code: str  # throttled, hot, clock, governor, charging, busy, few_samples, partial, cooldown
    message: str


def validity_flags(latency, before, after, energy=None, partial_reason: Optional[str] = None,
                   extra: Tuple[Flag, ...] = ()) -> Tuple[Flag, ...]:
    """Flags from the latency stats, the device facts before and after the run (either may be
    None), the energy estimate and the partial reason."""
    out: List[Flag] = list(extra)
    facts = [f for f in (before, after) if f is not None]
    for label, f in (("before", before), ("after", after)):
        if f is not None and f.throttled is not None and f.throttled & THROTTLED_NOW:
            out.append(Flag("throttled", f"vcgencmd get_throttled={f.throttled:#x} {label} the run: "
                                         f"{', '.join(f.throttled_flags)}"))
    if before is not None and after is not None and before.throttled is not None and after.throttled is not None:
        new = (after.throttled & ~before.throttled) & THROTTLED_SINCE_BOOT
        if new:
            out.append(Flag("throttled", f"throttling occurred during the run (get_throttled {before.throttled:#x} "
                                         f"-> {after.throttled:#x})"))
    if before is not None and after is not None and before.temperature_c is not None and after.temperature_c is not None:
        t0, t1 = before.temperature_c, after.temperature_c
        if t1 >= HOT_C or t1 - t0 >= WARMED_C:
            out.append(Flag("hot", f"temperature {t0:.1f} -> {t1:.1f} degC over the run"))
    if before is not None and after is not None and before.cpu_cur_khz and after.cpu_cur_khz:
        if after.cpu_cur_khz < CLOCK_DROP * before.cpu_cur_khz:
            out.append(Flag("clock", f"CPU clock fell from {before.cpu_cur_khz / 1000:.0f} to "
                                     f"{after.cpu_cur_khz / 1000:.0f} MHz over the run"))
    governor = next((f.cpu_governor for f in facts if f.cpu_governor), None)
    if governor is not None and governor != "performance":
        out.append(Flag("governor", f"cpufreq governor is {governor}, not performance: clocks may change "
                                    f"during the run"))
    charging = (energy is not None and energy.charging) or any(
        f.battery is not None and f.battery.charging for f in facts)
    if charging:
        out.append(Flag("charging", "the battery was charging during the run"))
    if before is not None and before.load_avg_1m is not None and before.load_avg_1m > BUSY_LOAD:
        out.append(Flag("busy", f"load average {before.load_avg_1m:.2f} from other processes before the run"))
    few = latency.too_few_for()
    if few:
        out.append(Flag("few_samples", f"{latency.n} samples are too few for {', '.join(few)}"))
    if partial_reason:
        out.append(Flag("partial", partial_reason))
    return tuple(out)

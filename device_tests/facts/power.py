"""Power readings: Termux's battery status, Linux power_supply, Intel RAPL, INA219 hwmon.

Everything is converted to SI units (V, A, W, degC). Signs are NOT normalised: some vendors
report the current negative while charging (Qualcomm), others negative while discharging, so
`current_a` keeps the device's sign and `power_w` is a magnitude. Use `status` to tell the
direction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from ._parse import key_values, to_float, to_int

#: Termux reports `current` in mA on some phones and in uA on others (termux/termux-api#293).
#: Phones draw well under 20 A, and under 20 mA only when idle with the screen off, so a
#: magnitude above 20000 is read as microamps.
MICROAMP_THRESHOLD = 20000


@dataclass(frozen=True)
class BatteryReading:
    source: str  # "termux-battery-status", "power_supply:BAT0", ...
    status: Optional[str] = None  # "Charging", "Discharging", "Not charging", "Full", "Unknown"
    percent: Optional[float] = None
    voltage_v: Optional[float] = None
    current_a: Optional[float] = None
    power_w: Optional[float] = None
    temperature_c: Optional[float] = None
    plugged: Optional[str] = None


def _termux_amps(value) -> Optional[float]:
    v = to_float(value) if value is not None else None
    if v is None:
        return None
    return v / 1e6 if abs(v) > MICROAMP_THRESHOLD else v / 1e3


def parse_termux_battery_status(output: str) -> Optional[BatteryReading]:
    """`termux-battery-status` JSON, the old 6-key format and the newer one (voltage in mV)."""
    try:
        d = json.loads(output or "")
    except ValueError:
        return None
    if not isinstance(d, dict):
        return None
    volts = to_float(d.get("voltage")) if d.get("voltage") is not None else None
    volts = volts / 1000.0 if volts is not None else None
    amps = _termux_amps(d.get("current"))
    status = d.get("status")
    return BatteryReading(
        source="termux-battery-status",
        status=status.replace("_", " ").capitalize() if isinstance(status, str) else None,
        percent=to_float(d.get("percentage")) if d.get("percentage") is not None else None,
        voltage_v=volts,
        current_a=amps,
        power_w=abs(volts * amps) if volts is not None and amps is not None else None,
        temperature_c=to_float(d.get("temperature")) if d.get("temperature") is not None else None,
        plugged=d.get("plugged") if isinstance(d.get("plugged"), str) else None,
    )


def parse_power_supply_uevent(output: str) -> Optional[BatteryReading]:
    """/sys/class/power_supply/*/uevent (Documentation/ABI/testing/sysfs-class-power):
    VOLTAGE_NOW in uV, CURRENT_NOW in uA, POWER_NOW in uW, TEMP in tenths of a degree C."""
    f = {k.replace("POWER_SUPPLY_", "", 1): v for k, v in key_values(output, "=").items()}
    if not f:
        return None
    uv, ua, uw = to_int(f.get("VOLTAGE_NOW")), to_int(f.get("CURRENT_NOW")), to_int(f.get("POWER_NOW"))
    volts = uv / 1e6 if uv is not None else None
    amps = ua / 1e6 if ua is not None else None
    if uw is not None:
        watts = abs(uw) / 1e6
    elif volts is not None and amps is not None:
        watts = abs(volts * amps)
    else:
        watts = None
    temp = to_int(f.get("TEMP"))
    return BatteryReading(
        source="power_supply:" + f.get("NAME", "?"),
        status=f.get("STATUS"),
        percent=to_float(f.get("CAPACITY")) if f.get("CAPACITY") is not None else None,
        voltage_v=volts,
        current_a=amps,
        power_w=watts,
        temperature_c=temp / 10.0 if temp is not None else None,
        plugged=None,
    )


def parse_energy_uj(output: str) -> Optional[int]:
    """An Intel RAPL counter (/sys/class/powercap/intel-rapl:N/energy_uj), microjoules."""
    return to_int((output or "").strip())


def rapl_power_w(e0_uj: int, e1_uj: int, seconds: float, max_energy_range_uj: int) -> float:
    """Mean power between two reads of a RAPL counter that wraps to 0 past max_energy_range_uj.

    P = dE / dt with dE = e1 - e0, plus (max_energy_range_uj + 1) when the counter wrapped
    (Linux powercap sysfs ABI; the counter wraps at most once between reads a few seconds apart).
    """
    if seconds <= 0:
        raise ValueError(f"RAPL interval must be positive, got {seconds} s")
    delta = e1_uj - e0_uj
    if delta < 0:
        delta += max_energy_range_uj + 1
    return delta / 1e6 / seconds


@dataclass(frozen=True)
class Ina219Reading:
    """An INA219 through the Linux hwmon driver (Documentation/hwmon/ina2xx.rst): in0 = shunt
    voltage (mV), in1 = bus voltage (mV), power1 = uW, curr1 = mA, shunt_resistor = micro-ohm."""

    shunt_mv: Optional[float] = None
    bus_v: Optional[float] = None
    power_w: Optional[float] = None
    current_a: Optional[float] = None
    shunt_ohm: Optional[float] = None


def parse_ina219_values(output: str) -> Ina219Reading:
    """`cat in0_input in1_input power1_input curr1_input shunt_resistor`: one value per line."""
    vals = [to_int(l) for l in (output or "").splitlines() if l.strip()]
    vals += [None] * (5 - len(vals))
    shunt, bus, power, curr, rshunt = vals[:5]
    return Ina219Reading(
        shunt_mv=float(shunt) if shunt is not None else None,
        bus_v=bus / 1000.0 if bus is not None else None,
        power_w=power / 1e6 if power is not None else None,
        current_a=curr / 1000.0 if curr is not None else None,
        shunt_ohm=rshunt / 1e6 if rshunt is not None else None,
    )

"""Pure parsers of power readings: Termux's battery status, Linux power_supply, Intel RAPL,
INA2xx through hwmon, the Raspberry Pi 5 PMIC (`vcgencmd pmic_read_adc`).

Everything is converted to SI units (V, A, W, degC). Signs are NOT normalised: some vendors
report the current negative while charging (Qualcomm, and termux on some phones), others
negative while discharging, so `current_a` keeps the device's sign and `power_w` is a
magnitude. Whether the battery is charging comes from `status` alone, never from a sign.

Stdlib only: this module ships to the device inside the deployment zip, where the agent's
power sampler calls the same parsers on what it reads.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from edgewise.runtime.records import Record

from ..textparse import key_values, to_float, to_int

#: Termux reports `current` in mA on some phones and in uA on others (termux/termux-api#293).
#: Phones draw well under 20 A, and under 20 mA only when idle with the screen off, so a
#: magnitude above 20000 is read as microamps.
MICROAMP_THRESHOLD = 20000


@dataclass(frozen=True)
class BatteryReading(Record):
    source: str  # "termux-battery-status", "power_supply:BAT0", ...
    status: Optional[str] = None  # "Charging", "Discharging", "Not charging", "Full", "Unknown"
    percent: Optional[float] = None
    voltage_v: Optional[float] = None
    current_a: Optional[float] = None
    power_w: Optional[float] = None
    temperature_c: Optional[float] = None
    plugged: Optional[str] = None

    @property
    def charging(self) -> Optional[bool]:
        """True while charging (or full on the charger), False on battery, None when not said."""
        return charging_from_status(self.status)


def charging_from_status(status: Optional[str]) -> Optional[bool]:
    """power_supply STATUS / termux `status`: "Charging" and "Full" mean a charger feeds the
    battery; "Discharging" and "Not charging" do not. A sign is never used (see module doc)."""
    s = (status or "").strip().lower().replace("_", " ")
    if s in ("charging", "full"):
        return True
    if s in ("discharging", "not charging"):
        return False
    return None


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


@dataclass(frozen=True)
class Ina219Reading(Record):
    """An INA2xx (INA219/226/230/231/260) through the Linux hwmon driver
    (Documentation/hwmon/ina2xx.rst): in0 = shunt voltage (mV), in1 = bus voltage (mV),
    power1 = uW, curr1 = mA, shunt_resistor = micro-ohm."""

    shunt_mv: Optional[float] = None
    bus_v: Optional[float] = None
    power_w: Optional[float] = None
    current_a: Optional[float] = None
    shunt_ohm: Optional[float] = None


#: The hwmon files of an INA2xx in the order `parse_ina219_values` reads them.
INA_FILES = ("in0_input", "in1_input", "power1_input", "curr1_input", "shunt_resistor")
#: hwmon `name`s of the TI shunt monitors the ina2xx and ina238 drivers expose.
INA_NAMES = ("ina209", "ina219", "ina220", "ina226", "ina230", "ina231", "ina234", "ina237", "ina238", "ina260")


def parse_ina219_values(output: str) -> Ina219Reading:
    """One value per line, in INA_FILES order (`for f in INA_FILES; do cat $f || echo; done`):
    a missing file leaves an empty line, so later values keep their place."""
    vals = [to_int(l) if l.strip() else None for l in (output or "").splitlines()[:5]]
    vals += [None] * (5 - len(vals))
    shunt, bus, power, curr, rshunt = vals[:5]
    return Ina219Reading(
        shunt_mv=float(shunt) if shunt is not None else None,
        bus_v=bus / 1000.0 if bus is not None else None,
        power_w=power / 1e6 if power is not None else None,
        current_a=curr / 1000.0 if curr is not None else None,
        shunt_ohm=rshunt / 1e6 if rshunt is not None else None,
    )


def ina_power_w(r: Ina219Reading) -> Optional[float]:
    """The chip's power register, else bus voltage x |current|; None when neither is there."""
    if r.power_w is not None:
        return abs(r.power_w)
    if r.bus_v is not None and r.current_a is not None:
        return abs(r.bus_v * r.current_a)
    return None


_PMIC_LINE = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=\s*([-+0-9.eE]+)[AV]\s*$")


def parse_pmic_read_adc(output: str) -> Dict[str, Tuple[Optional[float], Optional[float]]]:
    """`vcgencmd pmic_read_adc` on a Raspberry Pi 5: rail -> (amps, volts). Rails with a voltage
    only (EXT5V, BATT) have amps None."""
    rails: Dict[str, list] = {}
    for line in (output or "").splitlines():
        m = _PMIC_LINE.match(line)
        if not m:
            continue
        rail, kind, value = m.group(1), m.group(2), float(m.group(3))
        rails.setdefault(rail, [None, None])[0 if kind == "A" else 1] = value
    return {k: (v[0], v[1]) for k, v in rails.items()}


def pmic_power_w(rails: Dict[str, Tuple[Optional[float], Optional[float]]]) -> Optional[float]:
    """Sum of V x A over the PMIC rails that report both: the SoC, memory and I/O rails the PMIC
    regulates. It leaves out the 5 V input stage (USB, fan, HATs) and the regulators' losses, so
    it is below the wall power; it tracks the SoC's draw, which is what inference changes."""
    both = [a * v for a, v in rails.values() if a is not None and v is not None]
    return sum(both) if both else None

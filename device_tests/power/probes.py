"""Power probes: where a device can tell its power draw, each a reading paired with a pure parser.

A probe reads text exactly as its `command` would print it (a sysfs file read in-process, or a
command run), and hands it to a parser from `parsers`. `discover()` looks for every source a
device has and ranks them; the agent samples the first. The ranking, best first:

1. Intel RAPL `energy_uj` (package domain): an energy counter, so nothing between two reads is
   missed; it covers the CPU package, not the board. Root-only on Linux >= 5.10 (CVE-2020-8694).
2. An INA2xx shunt monitor through hwmon: measures what flows through its shunt (often the
   whole board's supply or its battery), sampled by the chip itself.
3. The Raspberry Pi 5 PMIC (`vcgencmd pmic_read_adc`): the SoC, memory and I/O rails.
4. A Linux `power_supply` battery: its fuel gauge, meaningful only while discharging.
5. `termux-battery-status`: the same fuel gauge through Android, but each call starts a JVM
   and pins a core for about 3 s, so it is *intrusive*: never sampled during the timed runs.

Stdlib only: it ships to the device in the deployment zip. `root` prefixes every sysfs path,
so a test can point discovery at a fake tree.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable, List, NamedTuple, Optional, Tuple

from . import parsers


class Reading(NamedTuple):
    """One sample: watts (kind "power") or a microjoule counter (kind "energy"), and whether a
    charger was feeding the battery at the time (None when the source cannot tell)."""

    value: Optional[float]
    charging: Optional[bool] = None


@dataclass(frozen=True)
class Probe:
    source: str  # "rapl:package-0", "hwmon:ina219", "pmic:rpi5", "power_supply:BAT0", "termux-battery-status"
    kind: str  # "power" (W) or "energy" (a counter in uJ)
    command: str  # the same reading as a shell command, for a person to try
    read: Callable[[], str]
    parse: Callable[[str], Reading]
    intrusive: bool = False  # costs enough CPU to disturb a measurement: sample outside the timed runs
    min_interval_s: float = 0.0
    wrap_uj: Optional[int] = None  # an energy counter wraps to 0 past this value
    note: str = ""

    def sample(self) -> Reading:
        return self.parse(self.read())


@dataclass
class Discovery:
    """The usable probes, best first, and a note for each source seen but not usable."""

    probes: List[Probe] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _run(argv: Tuple[str, ...], timeout: float) -> Callable[[], str]:
    def read() -> str:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout).stdout

    return read


def _rapl(root: str, found: Discovery) -> None:
    zones = sorted(glob.glob(os.path.join(root, "sys/class/powercap/intel-rapl:[0-9]")) +
                   glob.glob(os.path.join(root, "sys/class/powercap/intel-rapl:[0-9][0-9]")))
    packages = []
    for zone in zones:
        try:
            name = _read_file(os.path.join(zone, "name")).strip()
        except OSError:
            continue
        if name.startswith("package"):
            packages.append((zone, name))
    for zone, name in packages[:1]:
        energy = os.path.join(zone, "energy_uj")
        try:
            parsers.parse_energy_uj(_read_file(energy))
            top = parsers.parse_energy_uj(_read_file(os.path.join(zone, "max_energy_range_uj")))
        except PermissionError:
            found.notes.append(f"rapl:{name}: {energy} is readable by root only on this kernel (Linux 5.10+, "
                               f"CVE-2020-8694); run the agent as root or grant read access to measure with RAPL")
            continue
        except OSError as e:
            found.notes.append(f"rapl:{name}: cannot read {energy}: {e.strerror or e}")
            continue
        more = f"; {len(packages)} packages, measuring the first" if len(packages) > 1 else ""
        found.probes.append(Probe(
            f"rapl:{name}", "energy", f"cat {energy}", lambda p=energy: _read_file(p),
            lambda out: Reading(None if parsers.parse_energy_uj(out) is None else float(parsers.parse_energy_uj(out))),
            wrap_uj=top, note="Intel RAPL package energy counter: the CPU package, not the whole board" + more))


def _hwmon(root: str, found: Discovery) -> None:
    for folder in sorted(glob.glob(os.path.join(root, "sys/class/hwmon/hwmon*"))):
        try:
            name = _read_file(os.path.join(folder, "name")).strip()
        except OSError:
            continue
        if name not in parsers.INA_NAMES:
            continue

        def read(folder=folder) -> str:
            lines = []
            for f in parsers.INA_FILES:
                try:
                    lines.append(_read_file(os.path.join(folder, f)).strip())
                except OSError:
                    lines.append("")
            return "\n".join(lines) + "\n"

        def parse(out: str) -> Reading:
            return Reading(parsers.ina_power_w(parsers.parse_ina219_values(out)))

        if parse(read()).value is None:
            found.notes.append(f"hwmon:{name} ({folder}): neither power1_input nor in1_input with curr1_input")
            continue
        cmd = f"cd {folder} && for f in {' '.join(parsers.INA_FILES)}; do cat $f 2>/dev/null || echo; done"
        found.probes.append(Probe(f"hwmon:{name}", "power", cmd, read, parse,
                                  note=f"{name} shunt monitor ({folder}): what flows through its shunt"))


def _pmic(root: str, found: Discovery) -> None:
    if root not in ("/", "") or shutil.which("vcgencmd") is None:
        return
    read = _run(("vcgencmd", "pmic_read_adc"), 5.0)

    def parse(out: str) -> Reading:
        return Reading(parsers.pmic_power_w(parsers.parse_pmic_read_adc(out)))

    try:
        usable = parse(read()).value is not None
    except (OSError, subprocess.SubprocessError) as e:
        found.notes.append(f"pmic:rpi5: vcgencmd pmic_read_adc failed: {e}")
        return
    if usable:  # only a Pi 5 has the PMIC ADC; older Pis print an error
        found.probes.append(Probe("pmic:rpi5", "power", "vcgencmd pmic_read_adc", read, parse, min_interval_s=0.1,
                                  note="Raspberry Pi 5 PMIC rails (sum of V x A): SoC, memory and I/O, not the 5 V input"))


def _power_supply(root: str, found: Discovery) -> None:
    for folder in sorted(glob.glob(os.path.join(root, "sys/class/power_supply/*"))):
        uevent = os.path.join(folder, "uevent")
        try:
            kind = _read_file(os.path.join(folder, "type")).strip()
            text = _read_file(uevent)
        except OSError:
            continue
        if kind != "Battery":
            continue

        def parse(out: str) -> Reading:
            r = parsers.parse_power_supply_uevent(out)
            return Reading(None, None) if r is None else Reading(r.power_w, r.charging)

        name = os.path.basename(folder)
        if parse(text).value is None:
            found.notes.append(f"power_supply:{name}: the battery reports neither POWER_NOW nor VOLTAGE_NOW "
                               f"with CURRENT_NOW")
            continue
        found.probes.append(Probe(f"power_supply:{name}", "power", f"cat {uevent}", lambda p=uevent: _read_file(p),
                                  parse, note="battery fuel gauge: the whole device, valid only on battery"))


def _termux(root: str, found: Discovery) -> None:
    if root not in ("/", "") or shutil.which("termux-battery-status") is None:
        return

    def parse(out: str) -> Reading:
        r = parsers.parse_termux_battery_status(out)
        return Reading(None, None) if r is None else Reading(r.power_w, r.charging)

    read = _run(("termux-battery-status",), 15.0)
    if parse(read()).value is None:
        found.notes.append("termux-battery-status: no voltage and current in its output (termux-api older than "
                           "0.51); update termux-api to measure power")
        return
    found.probes.append(Probe("termux-battery-status", "power", "termux-battery-status", read, parse,
                              intrusive=True, min_interval_s=0.0,
                              note="Android battery fuel gauge through termux-api; each call pins a core for ~3 s, "
                                   "so it is sampled in a separate phase, not during the timed runs"))


def discover(root: str = "/") -> Discovery:
    """Every power source this device offers, best first (see the module docstring)."""
    found = Discovery()
    for look in (_rapl, _hwmon, _pmic, _power_supply, _termux):
        look(root, found)
    if not found.probes and not found.notes:
        found.notes.append("no power source: no readable RAPL counter, INA2xx hwmon, Raspberry Pi 5 PMIC, battery "
                           "or termux-battery-status")
    return found

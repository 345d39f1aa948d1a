"""Device facts: each one a shell command paired with a pure parser of its output.

As in pyinfra, a fact is `command` + `process(output)`; parsers never touch the device, so they
are tested on outputs recorded on real boards and phones. All the commands go to the device as
one script (one round trip), each section introduced by a marker line; a command that fails
(no vcgencmd on a laptop, no /proc/device-tree on x86) leaves its section empty and its parser
returns None fields.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from edgewise.runtime.records import Record

from ..connectors.base import BaseConnector
from ..errors import DeviceError
from ..power import parsers as power
from . import cpu, memory, system, thermal


@dataclass(frozen=True)
class Fact:
    name: str
    command: str  # may use {python}: the device's interpreter, already shell-quoted
    process: Callable[[str], Any]


def _battery_reading(output: str):
    """termux-battery-status prints JSON; the power_supply branch prints a uevent file."""
    return power.parse_termux_battery_status(output) if output.lstrip().startswith("{") else (
        power.parse_power_supply_uevent(output)
    )


FACTS: Tuple[Fact, ...] = (
    Fact("cpuinfo", "cat /proc/cpuinfo", cpu.parse_cpuinfo),
    Fact("lscpu", "LC_ALL=C lscpu", cpu.parse_lscpu),
    Fact("meminfo", "cat /proc/meminfo", memory.parse_meminfo),
    Fact("os_release", "cat /etc/os-release", system.parse_os_release),
    Fact("rpi_issue", "cat /etc/rpi-issue", system.parse_rpi_issue),
    Fact("uname", "uname -a", system.parse_uname),
    Fact("loadavg", "cat /proc/loadavg", system.parse_loadavg),
    Fact("dt_model", "cat /proc/device-tree/model", system.parse_device_tree_string),
    Fact("termux", 'printf "PREFIX=%s\\nTERMUX_VERSION=%s\\n" "$PREFIX" "$TERMUX_VERSION"', system.parse_termux_env),
    Fact("android", "command -v getprop >/dev/null && getprop", system.android_props),
    Fact("python", "{python} -c 'import sys; print(sys.version)'", system.parse_python_version),
    Fact("numpy", "{python} -c 'import numpy; print(numpy.__version__)'", system.parse_numpy_version),
    Fact(
        "cpufreq",
        "cd /sys/devices/system/cpu/cpu0/cpufreq && for f in scaling_governor scaling_cur_freq scaling_min_freq "
        "scaling_max_freq scaling_available_governors; do printf '%s=' $f; cat $f || echo; done",
        thermal.parse_cpufreq,
    ),
    Fact(
        "vcgencmd",
        "command -v vcgencmd >/dev/null && "
        "{ vcgencmd get_throttled; vcgencmd measure_temp; vcgencmd measure_clock arm; }",
        thermal.parse_vcgencmd,
    ),
    Fact(
        "thermal",
        "cat /sys/class/thermal/thermal_zone*/type && echo --- && cat /sys/class/thermal/thermal_zone*/temp",
        thermal.parse_thermal_zones,
    ),
    Fact(
        "battery",
        "if command -v termux-battery-status >/dev/null; then timeout 10 termux-battery-status; "
        "else for d in /sys/class/power_supply/*; do [ \"$(cat $d/type)\" = Battery ] && cat $d/uevent && break; "
        "done; fi",
        _battery_reading,
    ),
)
#: Read before a run: the interpreter's versions come from the agent itself (its hello), which
#: saves two interpreter start-ups and a NumPy import per device.
BEFORE_RUN = tuple(f.name for f in FACTS if f.name not in ("python", "numpy"))
#: The facts that change during a run, read again after it.
AFTER_RUN = ("cpufreq", "vcgencmd", "thermal")
#: What --cooldown polls until the temperature settles.
TEMPERATURE = ("vcgencmd", "thermal")

MARKER = "@@edgewise-fact "


def script(facts: Sequence[Fact], python: str) -> str:
    """One shell script that prints a marker line, then each fact's output (stderr dropped).

    Each marker starts on a fresh line: some outputs (device-tree strings) end without a newline.
    """
    parts = []
    for f in facts:
        cmd = f.command.replace("{python}", shlex.quote(python))
        parts.append(f"printf '\\n%s\\n' {shlex.quote(MARKER + f.name)}; ( {cmd} ) 2>/dev/null")
    return "; ".join(parts) + "; true"


def split_sections(output: str) -> Dict[str, str]:
    sections: Dict[str, list] = {}
    current = None
    for line in output.split("\n"):
        if line.startswith(MARKER):
            current = line[len(MARKER):].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {k: "\n".join(v).strip("\n") + ("\n" if any(v) else "") for k, v in sections.items()}


@dataclass(frozen=True)
class DeviceFacts(Record):
    """What the device is, summarised from the parsed facts. Unknown values are None."""

    hostname: Optional[str] = None
    board: Optional[str] = None
    os: Optional[str] = None
    os_id: Optional[str] = None
    os_version: Optional[str] = None
    raspberry_pi_os: Optional[str] = None
    kernel: Optional[str] = None
    machine: Optional[str] = None
    cpu_model: Optional[str] = None
    cpu_cores: Optional[int] = None
    cpu_core_types: Tuple[str, ...] = ()
    cpu_max_mhz: Optional[float] = None
    memory_total_bytes: Optional[int] = None
    memory_available_bytes: Optional[int] = None
    is_termux: bool = False
    termux_version: Optional[str] = None
    android_version: Optional[str] = None
    python_version: Optional[str] = None
    numpy_version: Optional[str] = None
    cpu_governor: Optional[str] = None
    cpu_cur_khz: Optional[int] = None
    cpu_max_khz: Optional[int] = None
    throttled: Optional[int] = None
    throttled_flags: Tuple[str, ...] = ()
    temperature_c: Optional[float] = None
    battery: Optional[power.BatteryReading] = None
    load_avg_1m: Optional[float] = None

    @classmethod
    def from_parsed(cls, p: Mapping[str, Any]) -> "DeviceFacts":
        ci = p.get("cpuinfo") or cpu.CpuInfo()
        ls = p.get("lscpu") or cpu.LscpuInfo()
        osr = p.get("os_release") or system.OsRelease()
        un = p.get("uname") or system.Uname()
        tx = p.get("termux") or system.TermuxInfo()
        an = p.get("android")
        cf = p.get("cpufreq") or thermal.CpuFreq()
        vc = p.get("vcgencmd") or thermal.Vcgencmd()
        zones = p.get("thermal") or ()
        mem = p.get("meminfo") or memory.MemInfo()
        board = p.get("dt_model") or ci.board_model
        if board is None and an is not None and an.model:
            board = " ".join(x for x in (an.manufacturer, an.model) if x)
        cpu_model = ci.model_name
        if ls.model_names and (cpu_model is None or cpu_model.startswith("ARM part")):
            cpu_model = " + ".join(ls.model_names)
        temp = vc.temp_c if vc.temp_c is not None else thermal.cpu_temperature(zones)
        return cls(
            hostname=un.hostname,
            board=board,
            os=osr.pretty_name or ((f"Android {an.android_version}" if an and an.android_version else None)),
            os_id=osr.id or ("android" if an is not None else None),
            os_version=osr.version_id or (an.android_version if an else None),
            raspberry_pi_os=p.get("rpi_issue"),
            kernel=un.release,
            machine=un.machine or ls.architecture,
            cpu_model=cpu_model,
            cpu_cores=ci.cores or ls.cpus,
            cpu_core_types=ci.core_types or ls.model_names,
            cpu_max_mhz=ls.max_mhz if ls.max_mhz is not None else (cf.max_khz / 1000.0 if cf.max_khz else None),
            memory_total_bytes=mem.total_bytes,
            memory_available_bytes=mem.available_bytes,
            is_termux=tx.is_termux,
            termux_version=tx.termux_version,
            android_version=an.android_version if an else None,
            python_version=p.get("python"),
            numpy_version=p.get("numpy"),
            cpu_governor=cf.governor,
            cpu_cur_khz=cf.cur_khz if cf.cur_khz is not None else (vc.arm_hz // 1000 if vc.arm_hz else None),
            cpu_max_khz=cf.max_khz,
            throttled=vc.throttled.raw if vc.throttled else None,
            throttled_flags=vc.throttled.flags if vc.throttled else (),
            temperature_c=temp,
            battery=p.get("battery"),
            load_avg_1m=p.get("loadavg"),
        )


def parse_all(output: str, facts: Sequence[Fact] = FACTS) -> Dict[str, Any]:
    """Run every fact's parser on its section of the script's output."""
    sections = split_sections(output)
    return {f.name: f.process(sections.get(f.name, "")) for f in facts}


def collect(conn: BaseConnector, python: str = "python3", names: Optional[Sequence[str]] = None,
            timeout: float = 60.0) -> DeviceFacts:
    """Collect the facts (all, or those in `names`) from a device in one command."""
    facts = FACTS if names is None else tuple(f for f in FACTS if f.name in names)
    res = conn.run_shell_command(script(facts, python), timeout=timeout)
    if MARKER not in res.stdout:
        raise DeviceError(f"{conn.name}: the facts script printed nothing ({res.describe()})")
    return DeviceFacts.from_parsed(parse_all(res.stdout, facts))


__all__ = ["Fact", "FACTS", "DeviceFacts", "collect", "parse_all", "script", "split_sections"]

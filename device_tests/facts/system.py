"""OS, kernel, board, Android/Termux and Python facts."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..textparse import clean, key_values, to_float, to_int


@dataclass(frozen=True)
class OsRelease:
    """/etc/os-release (freedesktop.org os-release(5)). Raspberry Pi OS bookworm says ID=debian."""

    id: Optional[str] = None
    name: Optional[str] = None
    pretty_name: Optional[str] = None
    version_id: Optional[str] = None
    version_codename: Optional[str] = None
    id_like: Tuple[str, ...] = ()


def _unquote(value: str) -> str:
    value = value.strip()
    try:
        words = shlex.split(value)
    except ValueError:
        return value.strip("\"'")
    return " ".join(words)


def parse_os_release(output: str) -> OsRelease:
    f = {k: _unquote(v) for k, v in key_values(output, "=").items()}
    return OsRelease(
        id=f.get("ID") or None,
        name=f.get("NAME") or None,
        pretty_name=f.get("PRETTY_NAME") or None,
        version_id=f.get("VERSION_ID") or None,
        version_codename=f.get("VERSION_CODENAME") or None,
        id_like=tuple(f.get("ID_LIKE", "").split()),
    )


def parse_rpi_issue(output: str) -> Optional[str]:
    """/etc/rpi-issue's first line ("Raspberry Pi reference 2024-11-19"): the only file that
    tells Raspberry Pi OS apart from Debian since bookworm."""
    for line in (output or "").splitlines():
        if line.strip():
            return line.strip()
    return None


@dataclass(frozen=True)
class Uname:
    """`uname -a`: kernel name, node, release, version, machine and (GNU) operating system."""

    kernel_name: Optional[str] = None
    hostname: Optional[str] = None
    release: Optional[str] = None
    version: Optional[str] = None
    machine: Optional[str] = None
    os: Optional[str] = None


_OS_WORDS = ("GNU/Linux", "Android", "Linux", "Toybox", "GNU/kFreeBSD")
_MACHINES = re.compile(r"^(aarch64|arm64|armv\d+\w*|x86_64|i[3-6]86|riscv\d+|mips\w*|ppc\w*|s390x|loongarch64)$")


def parse_uname(output: str) -> Uname:
    """Fields are space separated, but the version (`#1 SMP PREEMPT Fri Oct  6 ...`) holds spaces:
    take three words from the front, the OS and machine from the back; the version is the text in
    between, its spacing kept."""
    line = next((l for l in (output or "").splitlines() if l.strip()), "")
    spans = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+", line)]
    words = [w for w, _, _ in spans]
    if len(words) < 3:
        return Uname(kernel_name=words[0] if words else None, hostname=words[1] if len(words) > 1 else None)
    end = len(words)
    os_name = machine = None
    if end > 3 and words[end - 1] in _OS_WORDS:
        os_name = words[end - 1]
        end -= 1
    while end > 3 and words[end - 1] == "unknown":  # -p and -i print "unknown" on many distributions
        end -= 1
    if end > 3 and _MACHINES.match(words[end - 1]):
        machine = words[end - 1]
        end -= 1
        while end > 3 and words[end - 1] in (machine, "unknown"):
            end -= 1  # `uname -a` prints machine, processor and platform: often the same word
    version = line[spans[3][1]:spans[end - 1][2]] if end > 3 else None
    return Uname(words[0], words[1], words[2], version, machine, os_name)


def parse_device_tree_string(output: str) -> Optional[str]:
    """/proc/device-tree/model: a NUL-terminated string with no newline."""
    text = clean((output or "").split("\x00")[0] if "\x00" in (output or "") else output)
    return text or None


@dataclass(frozen=True)
class AndroidProps:
    """From `getprop`. A GSI leaves ro.product.model empty or generic; the vendor one is the phone."""

    model: Optional[str] = None
    manufacturer: Optional[str] = None
    device: Optional[str] = None
    android_version: Optional[str] = None
    sdk: Optional[int] = None
    abi: Optional[str] = None
    soc: Optional[str] = None


_PROP = re.compile(r"^\[(?:getprop )?([^\]]+)\]: \[(.*)\]\s*$")


def parse_getprop(output: str) -> Dict[str, str]:
    """`getprop` lines `[key]: [value]` (TermuxArch's "[getprop key]: [value]" too) into a dict."""
    props: Dict[str, str] = {}
    for line in (output or "").splitlines():
        m = _PROP.match(line.strip())
        if m:
            props.setdefault(m.group(1), m.group(2))
    return props


def _first(props: Dict[str, str], suffix: str) -> Optional[str]:
    for part in ("vendor", "odm", "product", "system_ext", "system", ""):
        key = f"ro.product.{part}.{suffix}" if part else f"ro.product.{suffix}"
        if props.get(key):
            return props[key]
    return None


def android_props(output: str) -> Optional[AndroidProps]:
    props = parse_getprop(output)
    if not props:
        return None
    release = props.get("ro.build.version.release") or next(
        (v for k, v in sorted(props.items()) if k.endswith(".build.version.release") and v), None
    )
    sdk = props.get("ro.build.version.sdk") or next(
        (v for k, v in sorted(props.items()) if k.endswith(".build.version.sdk") and v), None
    )
    abi = props.get("ro.product.cpu.abi") or (
        (props.get("ro.system.product.cpu.abilist") or props.get("ro.product.cpu.abilist") or "").split(",")[0] or None
    )
    return AndroidProps(
        model=_first(props, "model"),
        manufacturer=_first(props, "manufacturer"),
        device=_first(props, "device"),
        android_version=release,
        sdk=to_int(sdk),
        abi=abi,
        soc=" ".join(x for x in (props.get("ro.soc.manufacturer"), props.get("ro.soc.model")) if x) or None,
    )


@dataclass(frozen=True)
class TermuxInfo:
    """Termux detection and, from `termux-info`, the app version and the phone it runs on."""

    is_termux: bool = False
    termux_version: Optional[str] = None
    prefix: Optional[str] = None
    android_version: Optional[str] = None
    manufacturer: Optional[str] = None
    model: Optional[str] = None
    kernel: Optional[str] = None
    arch: Optional[str] = None


def parse_termux_env(output: str) -> TermuxInfo:
    """`PREFIX=...` and `TERMUX_VERSION=...` lines: Termux sets PREFIX under com.termux."""
    f = key_values(output, "=")
    prefix = f.get("PREFIX") or None
    version = f.get("TERMUX_VERSION") or None
    is_termux = bool(version) or (prefix is not None and "com.termux" in prefix)
    return TermuxInfo(is_termux=is_termux, termux_version=version, prefix=prefix)


_TERMUX_SECTIONS = {
    "Android version": "android_version",
    "Device manufacturer": "manufacturer",
    "Device model": "model",
    "Kernel build information": "kernel",
    "System information": "kernel",  # termux-info before 2020
    "Packages CPU architecture": "arch",
    "Termux-packages arch": "arch",
}


def parse_python_version(output: str) -> Optional[str]:
    """The first `X.Y.Z` that starts a line of `python -c 'import sys; print(sys.version)'`
    (or of `python --version`)."""
    for line in (output or "").splitlines():
        m = re.match(r"^\s*(?:Python\s+)?(\d+\.\d+(?:\.\d+)?\S*)", line)
        if m:
            return m.group(1)
    return None


def parse_numpy_version(output: str) -> Optional[str]:
    line = next((l.strip() for l in (output or "").splitlines() if l.strip()), "")
    return line if re.match(r"^\d+\.\d+", line) else None


def parse_loadavg(output: str) -> Optional[float]:
    """/proc/loadavg: the 1-minute load average (runnable and uninterruptible tasks)."""
    words = (output or "").split()
    return to_float(words[0]) if words else None

"""Devices that have nothing: install NumPy from the host, and remove everything edgewise left.

`install_deps` asks the device for its Python (implementation, version, ABI), machine and C
library, has the HOST download matching wheels (`pip download --only-binary=:all:` with every
manylinux tag the device's glibc supports, PEP 600: manylinux_2_17 .. manylinux_2_<glibc>, plus
the legacy aliases manylinux2014/2010/1), pushes them into edgewise's cache folder on the device,
and unpacks them there into `<cache>/site-packages` with the device's own Python (`zipfile`: a
wheel is a zip whose root is the install tree, PEP 427). No pip, no index and no root on the
device, and nothing outside the cache touched; the agent adds that folder to its sys.path.
On Termux, where manylinux wheels do not load (Android's libc is bionic), it says which
`pkg install` line to run instead. `clean` deletes the cache folder: everything edgewise put there.
"""
from __future__ import annotations

import json
import os
import posixpath
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .deploy import _DEFAULT_CACHE
from .errors import DeviceError
from .inventory import DeviceEntry

#: What the device is asked: one JSON line from its Python (3.9+ or older: only the stdlib).
_PROBE = (
    "import json, os, platform, sys, sysconfig\n"
    "try:\n"
    "    import numpy\n"
    "    np = numpy.__version__\n"
    "except ImportError:\n"
    "    np = None\n"
    "libc, ver = platform.libc_ver()\n"
    "print(json.dumps({'impl': sys.implementation.name, 'version': list(sys.version_info[:2]), "
    "'abiflags': getattr(sys, 'abiflags', ''), 'machine': platform.machine(), 'libc': libc, 'libc_version': ver, "
    "'termux': 'com.termux' in os.environ.get('PREFIX', ''), 'numpy': np, "
    "'soabi': sysconfig.get_config_var('SOABI')}))\n"
)
SITE = "site-packages"
WHEELS = "wheels"


@dataclass(frozen=True)
class DevicePython:
    impl: str
    version: Tuple[int, int]
    abiflags: str
    machine: str
    libc: str
    libc_version: str
    termux: bool
    numpy: Optional[str]

    @property
    def tag(self) -> str:
        return f"cp{self.version[0]}{self.version[1]}"

    def platforms(self) -> List[str]:
        """Every manylinux platform tag this device's glibc can load, newest first (PEP 600, PEP 599)."""
        if self.libc != "glibc" or not self.libc_version:
            return []
        major, minor = (int(x) for x in self.libc_version.split(".")[:2])
        arch = {"armv7l": "armv7l", "armv8l": "armv7l", "aarch64": "aarch64", "arm64": "aarch64",
                "x86_64": "x86_64", "i686": "i686", "ppc64le": "ppc64le", "s390x": "s390x",
                "riscv64": "riscv64"}.get(self.machine, self.machine)
        tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 16, -1)] if major == 2 else []
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        for m, name in legacy.items():
            if major == 2 and minor >= m and arch in ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x"):
                if m == 17 or arch in ("x86_64", "i686"):
                    tags.append(f"{name}_{arch}")
        return tags


def probe_python(conn, python: str) -> DevicePython:
    res = conn.run_shell_command(f"{shlex.quote(python)} -c {shlex.quote(_PROBE)}", timeout=60)
    line = next((l for l in res.stdout.splitlines() if l.startswith("{")), None)
    if not res.ok or line is None:
        raise DeviceError(f"{conn.name}: cannot ask {python} about itself ({res.describe()})")
    d = json.loads(line)
    return DevicePython(d["impl"], tuple(d["version"]), d["abiflags"], d["machine"], d["libc"], d["libc_version"],
                        bool(d["termux"]), d["numpy"])


def download_wheels(py: DevicePython, requirements: Sequence[str], dest: str,
                    pip: Sequence[str] = (sys.executable, "-m", "pip")) -> List[str]:
    """Wheels for the device, fetched by the host's pip (its cache first, then its index)."""
    platforms = py.platforms()
    if not platforms:
        raise DeviceError(f"no manylinux wheels fit a device with {py.libc or 'an unknown C library'} "
                          f"{py.libc_version} on {py.machine}: install NumPy with its package manager")
    cmd = [*pip, "download", "--only-binary=:all:", "--no-deps", "--dest", dest, "--implementation", "cp",
           "--python-version", f"{py.version[0]}.{py.version[1]}", "--abi", py.tag + py.abiflags]
    for p in platforms:
        cmd += ["--platform", p]
    res = subprocess.run(cmd + list(requirements), capture_output=True, text=True)
    if res.returncode != 0:
        raise DeviceError(f"pip could not download {' '.join(requirements)} for Python {py.version[0]}."
                          f"{py.version[1]} on {py.machine} (glibc {py.libc_version}): "
                          f"{res.stderr.strip()[-800:]}")
    return sorted(os.path.join(dest, f) for f in os.listdir(dest) if f.endswith(".whl"))


_UNPACK = (
    "import sys, zipfile\n"
    "target = sys.argv[1]\n"
    "for wheel in sys.argv[2:]:\n"
    "    with zipfile.ZipFile(wheel) as z:\n"
    "        z.extractall(target, [n for n in z.namelist() if not n.split('/', 1)[0].endswith('.data')])\n"
)


def _cache(conn, entry: DeviceEntry) -> str:
    c = shlex.quote(entry.cache) if entry.cache else _DEFAULT_CACHE
    res = conn.run_shell_command(f'c={c}; printf "%s\\n" "$c"', timeout=60)
    cache = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    if not cache.startswith("/"):
        raise DeviceError(f"{conn.name}: cannot find a cache folder on the device ({res.describe()})")
    return cache


def install_deps(entry: DeviceEntry, *, requirements: Sequence[str] = ("numpy",), python: Optional[str] = None,
                 progress: Optional[Callable[[str], None]] = None, inventory: Optional[Dict] = None,
                 **connection) -> str:
    """Make NumPy importable for the agent on `entry`; a sentence saying what was done."""
    from .bench import open_device
    from .connectors import LocalConnector
    from .inventory import jump_entry

    report = progress or (lambda line: None)
    with open_device(entry, jump=jump_entry(entry, inventory or {}), **connection) as conn:
        py_path = python or entry.python or (sys.executable if isinstance(conn, LocalConnector) else "python3")
        cache = _cache(conn, entry)
        site = posixpath.join(cache, SITE)
        py = probe_python(conn, py_path)
        if py.numpy is not None:
            return f"{conn.name}: NumPy {py.numpy} is already installed for {py_path}; nothing to do"
        have = conn.run_shell_command(
            f"{shlex.quote(py_path)} -c {shlex.quote('import sys; sys.path.append(sys.argv[1]); import numpy')} "
            f"{shlex.quote(site)}", timeout=60)
        if have.ok:
            return f"{conn.name}: NumPy is already in edgewise's cache ({site}); nothing to do"
        if py.termux:
            raise DeviceError(f"{conn.name}: Termux cannot load manylinux wheels; on the phone run: "
                              f"pkg install python-numpy  (and python-tflite-runtime or python-onnxruntime for "
                              f"LiteRT/onnxruntime)")
        report(f"downloading {' '.join(requirements)} for Python {py.version[0]}.{py.version[1]} on {py.machine} "
               f"(glibc {py.libc_version}) on this machine")
        with tempfile.TemporaryDirectory(prefix="edgewise-wheels-") as tmp:
            wheels = download_wheels(py, requirements, tmp)
            remote = []
            for w in wheels:
                dest = posixpath.join(cache, WHEELS, os.path.basename(w))
                report(f"pushing {os.path.basename(w)} ({os.path.getsize(w) / 2**20:.1f} MiB)")
                conn.put_file(w, dest)
                remote.append(dest)
        words = [py_path, "-c", _UNPACK, site, *remote]
        res = conn.run_shell_command(" ".join(shlex.quote(w) for w in words), timeout=600)
        if not res.ok:
            raise DeviceError(f"{conn.name}: unpacking the wheels into {site} failed: {res.describe()}")
        report(f"installed {', '.join(os.path.basename(w) for w in remote)} into {site}")
        return f"{conn.name}: installed {', '.join(os.path.basename(w) for w in remote)} into {site}"


def clean(entry: DeviceEntry, *, inventory: Optional[Dict] = None, **connection) -> str:
    """Delete edgewise's cache folder on the device (payloads, models, wheels, site-packages)."""
    from .bench import open_device
    from .inventory import jump_entry

    with open_device(entry, jump=jump_entry(entry, inventory or {}), **connection) as conn:
        cache = _cache(conn, entry)
        if posixpath.basename(cache.rstrip("/")) != "edgewise" and not entry.cache:
            raise DeviceError(f"{conn.name}: refusing to delete {cache}: not edgewise's folder")
        res = conn.run_shell_command(f"du -sk {shlex.quote(cache)} 2>/dev/null; rm -rf {shlex.quote(cache)}",
                                     timeout=300)
        if not res.ok:
            raise DeviceError(f"{conn.name}: could not remove {cache}: {res.describe()}")
        size = res.stdout.split()[0] if res.stdout.split() else "0"
        return f"{cache} ({size} KiB)" if size != "0" else f"{cache} (nothing was there)"

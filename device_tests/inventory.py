"""Devices as data: an inventory file (TOML), ssh:// URLs and ~/.ssh/config aliases, all
resolved to the same `DeviceEntry` before anything connects (as pyinfra's inventories).

    # ~/.config/edgewise/devices.toml (or --inventory FILE, or $EDGEWISE_INVENTORY)
    [devices.pi5]
    address = "10.0.0.7"
    user = "pi"
    key = "~/.ssh/id_ed25519"
    tags = ["pi5", "lab"]

    [devices.phone]
    address = "192.168.1.20"
    port = 8022                  # Termux's sshd
    user = "u0_a123"
    jump = "bastion"             # another entry, or ssh://user@host:port
    python = "/data/data/com.termux/files/usr/bin/python3"
    cache = "/sdcard/edgewise cache"   # where edgewise keeps its files on the device

`--device NAME` names an entry; `--device ssh://USER@HOST[:PORT]` needs no file; any other name
is looked up in ~/.ssh/config (HostName, User, Port, IdentityFile, ProxyJump), as `ssh NAME` would.
`--tag pi5` picks every entry with that tag.
"""
from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from edgewise.runtime.records import Record, RecordError

from .errors import DeviceError


@dataclass(frozen=True)
class DeviceEntry(Record):
    """One device: where it is, how to log in, and what it is called in results."""

    name: str
    address: str = "local"
    port: int = 22
    user: Optional[str] = None
    key: Optional[str] = None
    jump: Optional[str] = None
    python: Optional[str] = None
    known_hosts: Optional[str] = None
    cache: Optional[str] = None  # edgewise's folder on the device (default ~/.cache/edgewise)
    tags: Tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.address == "local"

    @property
    def url(self) -> str:
        if self.is_local:
            return "local"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"ssh://{self.user or getpass.getuser()}@{host}:{self.port}"


def default_inventory_path() -> str:
    return os.environ.get("EDGEWISE_INVENTORY") or os.path.expanduser("~/.config/edgewise/devices.toml")


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    from edgewise._extras import require

    return require("tomli", "reading a device inventory on Python < 3.11")


def load_inventory(path: Optional[str] = None) -> Dict[str, DeviceEntry]:
    """The `[devices.NAME]` tables of a TOML file; {} when the default file does not exist."""
    explicit = path is not None
    path = os.path.expanduser(path or default_inventory_path())
    if not os.path.exists(path):
        if explicit:
            raise FileNotFoundError(f"{path}: no such inventory file")
        return {}
    toml = _toml()
    with open(path, "rb") as f:
        try:
            doc = toml.load(f)
        except toml.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from None
    devices = doc.get("devices", {})
    if not isinstance(devices, dict):
        raise ValueError(f"{path}: [devices] must be a table of [devices.NAME] tables")
    out = {}
    for name, table in devices.items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: devices.{name} must be a table")
        try:
            out[name] = DeviceEntry.from_dict({"name": name, **table})
        except RecordError as e:
            raise ValueError(f"{path}: devices.{name}: {e}") from None
    return out


def from_url(spec: str, name: Optional[str] = None) -> DeviceEntry:
    from .connectors.ssh import SSHTarget

    t = SSHTarget.parse(spec)
    entry = DeviceEntry(name or str(t), t.host, t.port, t.user)
    return replace(entry, name=name or entry.url)


def from_ssh_config(alias: str, config_path: str = "~/.ssh/config") -> Optional[DeviceEntry]:
    """`alias` as ~/.ssh/config describes it (paramiko.SSHConfig), or None if it names no Host."""
    path = os.path.expanduser(config_path)
    if not os.path.exists(path):
        return None
    from edgewise._extras import require

    paramiko = require("paramiko", "reading ~/.ssh/config")
    config = paramiko.SSHConfig.from_path(path)
    if alias not in config.get_hostnames() and not any(
            h != "*" and _glob(h, alias) for h in config.get_hostnames()):
        return None
    c = config.lookup(alias)
    keys = c.get("identityfile") or []
    return DeviceEntry(alias, c.get("hostname", alias), int(c.get("port", 22)), c.get("user"),
                       keys[0] if keys else None, c.get("proxyjump"))


def _glob(pattern: str, name: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(name, pattern)


def resolve(specs: Sequence[str] = (), tags: Sequence[str] = (), inventory: Optional[Dict[str, DeviceEntry]] = None,
            ssh_config: str = "~/.ssh/config") -> List[DeviceEntry]:
    """The devices named by `--device` values and `--tag` values, in order, without duplicates."""
    inventory = inventory or {}
    found: List[DeviceEntry] = []
    for spec in specs:
        if spec == "local":
            entry = DeviceEntry("local")
        elif spec.startswith("ssh://"):
            entry = from_url(spec)
        elif spec in inventory:
            entry = inventory[spec]
        else:
            entry = from_ssh_config(spec, ssh_config)
            if entry is None:
                known = ", ".join(sorted(inventory)) or "none"
                raise DeviceError(f"unknown device {spec!r}: not 'local', not ssh://USER@HOST[:PORT], not in the "
                                  f"inventory (devices: {known}) and not a Host in {ssh_config}")
        found.append(entry)
    for tag in tags:
        tagged = [e for e in inventory.values() if tag in e.tags]
        if not tagged:
            raise DeviceError(f"no device in the inventory has the tag {tag!r}")
        found.extend(tagged)
    unique, seen = [], set()
    for e in found:
        if e.name not in seen:
            seen.add(e.name)
            unique.append(e)
    return unique


def jump_entry(entry: DeviceEntry, inventory: Dict[str, DeviceEntry], ssh_config: str = "~/.ssh/config") -> Optional[DeviceEntry]:
    """The jump host of `entry` as an entry of its own (an inventory name, a URL or an ssh alias)."""
    if not entry.jump:
        return None
    spec = entry.jump
    if "://" not in spec and "@" in spec:  # ProxyJump's user@host[:port]
        spec = "ssh://" + spec
    return resolve([spec], inventory=inventory, ssh_config=ssh_config)[0]

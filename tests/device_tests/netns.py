"""A fleet of SSH "devices", each an OpenSSH sshd in a network namespace the test creates.

Namespace i is joined to the host by a veth pair (host end 10.213.i.1/30, device end
10.213.i.2/30): traffic to a device never leaves the machine. A device's link can be degraded
(`loss`: nft drops a share of incoming packets at random; `rate`: a tbf qdisc on its end caps the
bandwidth) or cut (`cut()`: the host end goes down). Needs root and iproute2 (`ip netns`); nft
only for loss. `fleet_unavailable()` says why not, for a skip that names the reason.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .sshd import SshServer, _keygen, start_sshd, stop_sshd


def fleet_unavailable(need_nft: bool = False) -> Optional[str]:
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs these tests as root)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    if need_nft and shutil.which("nft") is None:
        return "nft is not installed (apt-get install nftables)"
    probe = f"ewprobe{os.getpid()}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        return f"cannot create a network namespace: {res.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str, ns: Optional[str] = None) -> None:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@dataclass
class NamespacedDevice:
    index: int
    ns: str
    host_if: str
    dev_if: str
    server: SshServer

    @property
    def address(self) -> str:
        return self.server.address

    def cut(self) -> None:
        """Pull the cable: the host end of the veth goes down (TCP sees silence, no reset)."""
        _ip("ip", "link", "set", self.host_if, "down")

    def restore(self) -> None:
        _ip("ip", "link", "set", self.host_if, "up")


CPU_CGROUP = "/sys/fs/cgroup/cpu"  # cgroup v1's cpu controller (cfs quota)


def cpu_cgroups_available() -> bool:
    return os.geteuid() == 0 and os.access(os.path.join(CPU_CGROUP, "cgroup.procs"), os.W_OK)


class Fleet:
    """`Fleet(folder, n)` starts n namespaced sshds sharing one client key; `close()` removes all.

    `cpu_quota` (cores, e.g. 0.2) caps each device and everything its sshd starts with a cgroup
    (CFS quota), so co-located "devices" each get a CPU of their own size, as real boards do."""

    def __init__(self, folder: Path, n: int, tag: str = "ew", cpu_quota: Optional[float] = None):
        self.folder = folder
        self.cpu_quota = cpu_quota
        self.cgroups: List[str] = []
        self.devices: List[NamespacedDevice] = []
        self.client_key = folder / "client_ed25519"
        _keygen(self.client_key)
        base = f"{tag}{os.getpid() % 10000}"
        try:
            for i in range(n):
                self.devices.append(self._start(i, base))
        except BaseException:
            self.close()
            raise
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text("".join(Path(d.server.known_hosts).read_text() for d in self.devices))

    def _start(self, i: int, base: str) -> NamespacedDevice:
        ns, host_if, dev_if = f"{base}n{i}", f"{base}h{i}", f"{base}d{i}"
        _ip("ip", "netns", "add", ns)
        _ip("ip", "link", "add", host_if, "type", "veth", "peer", "name", dev_if)
        _ip("ip", "link", "set", dev_if, "netns", ns)
        _ip("ip", "addr", "add", f"10.213.{i}.1/30", "dev", host_if)
        _ip("ip", "link", "set", host_if, "up")
        _ip("ip", "addr", "add", f"10.213.{i}.2/30", "dev", dev_if, ns=ns)
        _ip("ip", "link", "set", dev_if, "up", ns=ns)
        _ip("ip", "link", "set", "lo", "up", ns=ns)
        folder = self.folder / f"dev{i}"
        folder.mkdir()
        # the device end never routes anywhere but its /30: no way out of the namespace
        server = start_sshd(folder, address=f"10.213.{i}.2", wrap=("ip", "netns", "exec", ns), port=2200 + i,
                            client_key=self.client_key)
        if self.cpu_quota:
            group = os.path.join(CPU_CGROUP, f"edgewise-{ns}")
            os.makedirs(group, exist_ok=True)
            self.cgroups.append(group)
            period = 100_000
            Path(group, "cpu.cfs_period_us").write_text(str(period))
            Path(group, "cpu.cfs_quota_us").write_text(str(int(self.cpu_quota * period)))
            Path(group, "cgroup.procs").write_text(str(server.proc.pid))
        return NamespacedDevice(i, ns, host_if, dev_if, server)

    def loss(self, i: int, percent: int) -> None:
        """Drop `percent`% of the packets the device receives, at random (nft numgen)."""
        ns = self.devices[i].ns
        _ip("nft", "add", "table", "inet", "edgewise", ns=ns)
        _ip("nft", "add", "chain", "inet", "edgewise", "in", "{ type filter hook input priority 0 ; }", ns=ns)
        _ip("nft", "add", "rule", "inet", "edgewise", "in", "numgen", "random", "mod", "100", "<", str(percent),
            "drop", ns=ns)

    def rate(self, i: int, rate: str = "2mbit") -> None:
        """Cap what the device sends at `rate` with a token bucket filter on its veth end."""
        d = self.devices[i]
        _ip("tc", "qdisc", "add", "dev", d.dev_if, "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms",
            ns=d.ns)

    def close(self) -> None:
        for d in self.devices:
            stop_sshd(d.server)
            subprocess.run(["ip", "link", "del", d.host_if], capture_output=True)
            subprocess.run(["ip", "netns", "del", d.ns], capture_output=True)
        self.devices = []
        for group in self.cgroups:
            try:
                os.rmdir(group)
            except OSError:  # a process of the group still exiting; the kernel frees it when empty
                pass
        self.cgroups = []

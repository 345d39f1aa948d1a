"""Many devices at once: a fleet of sshds in network namespaces, with loss, a slow link and a cut."""
from __future__ import annotations

import sys
import threading

import pytest

from edgewise.device_tests.bench import BenchSettings
from edgewise.device_tests.fleet import run_fleet
from edgewise.device_tests.inventory import DeviceEntry

from .netns import Fleet, fleet_unavailable

why = fleet_unavailable(need_nft=True)
pytestmark = [pytest.mark.host, pytest.mark.skipif(why is not None, reason=why or "")]


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path, 4)
    yield f
    f.close()


def test_fleet_runs_every_device_and_isolates_a_cut_link(fleet, tiny_tflite, tmp_path):
    fleet.loss(1, 5)  # 5% of the packets device 1 receives are dropped
    fleet.rate(2, "2mbit")  # device 2 sends at most 2 Mbit/s
    odd_cache = str(tmp_path / "device cache" / "it's \"quoted\" $HOME")
    entries = [DeviceEntry(f"dev{d.index}", d.address, d.server.port, d.server.user, tags=("lab",),
                           cache=odd_cache if d.index == 2 else None) for d in fleet.devices]
    cut = fleet.devices[3]
    lines = {e.name: [] for e in entries}
    cut_done = threading.Event()

    def progress(name, line):
        lines[name].append(line)
        if name == "dev3" and line.startswith("measuring:") and not cut_done.is_set():
            cut_done.set()
            cut.cut()

    settings = BenchSettings(runs=50, warmup=2, min_duration_s=12.0, idle_s=0.2)
    outcomes = run_fleet(tiny_tflite, entries, settings, retries=1, retry_pause_s=0.5, progress=progress,
                         identity=str(fleet.client_key), known_hosts=str(fleet.known_hosts), python=sys.executable,
                         connect_timeout=4.0, dead_link_s=4.0)
    assert [o.device for o in outcomes] == ["dev0", "dev1", "dev2", "dev3"]
    for o in outcomes[:3]:  # the lossy and the slow device finish like the clean one
        assert o.ok and o.error is None, (o.device, o.error, lines[o.device][-5:])
        assert o.result.latency_ms.n >= 50 and o.result.duration_s >= 12.0
        assert o.result.device == o.device and o.result.agent.python_executable == sys.executable
    assert outcomes[2].result.deployment.payload_path.startswith(odd_cache)
    dropped = outcomes[3]
    assert cut_done.is_set() and dropped.result is not None and dropped.result.partial
    assert dropped.result.latency_ms.n > 0 and "partial" in [f.code for f in dropped.result.flags]
    assert dropped.attempts == 2 and cut.address in dropped.error
    assert any(l.startswith("attempt 1 failed") for l in lines["dev3"])

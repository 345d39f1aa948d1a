"""Wall time of one benchmark on 8 devices at once vs on one: what running a fleet costs.

Each device is an OpenSSH sshd in a network namespace of its own (veth, as the fleet test:
tests/device_tests/netns.py), reached over SSH with the same key; the model is a small ONNX MLP
run by onnxruntime with the host's interpreter. Every device runs the same settings (`--runs`,
`--min-duration`, an idle baseline of 0.5 s), so the timed phase is fixed and the ratio shows the
cost of connecting, reading facts, deploying and collecting in parallel. Target: <= 1.5x.
Needs root (network namespaces).

All eight "devices" run on this machine's cores, where real boards each have their own CPU. So
each device gets a CPU of its own size: a cgroup caps it (and everything its sshd starts) at
`--device-cpu` cores (default: 80% of this machine's cores shared out among the devices, the
rest left to the host side, which is what is measured). `--device-cpu 0` lifts the caps: the
devices then compete for the cores, and their busy timed loops starve each other's start-up.

    sudo python benchmarks/fleet.py [--devices 8] [--min-duration 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness_overhead import make_models  # noqa: E402

from edgewise.device_tests.bench import BenchSettings  # noqa: E402
from edgewise.device_tests.fleet import run_fleet  # noqa: E402
from edgewise.device_tests.inventory import DeviceEntry  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=8)
    p.add_argument("--min-duration", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--device-cpu", type=float, default=None, metavar="CORES",
                   help="CPU cap per device (default 0.8 x cores / devices; 0: no cap)")
    args = p.parse_args(argv)
    from tests.device_tests.netns import Fleet, cpu_cgroups_available, fleet_unavailable

    why = fleet_unavailable()
    if why:
        print(f"fleet benchmark skipped: {why}")
        print("fleet skipped=1")
        return {}
    settings = BenchSettings(runs=args.runs, warmup=5, min_duration_s=args.min_duration, idle_s=0.5,
                             backend="onnxruntime", num_threads=1)
    with tempfile.TemporaryDirectory(prefix="edgewise-fleet-") as tmp:
        model, _ = make_models(tmp, 128)
        quota = args.device_cpu if args.device_cpu is not None else 0.8 * (os.cpu_count() or 1) / args.devices
        if quota and not cpu_cgroups_available():
            print("no writable cgroup cpu controller: devices run uncapped", file=sys.stderr)
            quota = 0.0
        fleet = Fleet(Path(tmp), args.devices, tag="ewb", cpu_quota=quota or None)
        try:
            entries = [DeviceEntry(f"dev{d.index}", d.address, d.server.port, d.server.user) for d in fleet.devices]
            conn = dict(identity=str(fleet.client_key), known_hosts=str(fleet.known_hosts), python=sys.executable)
            walls = {1: [], args.devices: []}
            for rnd in range(args.rounds):
                for n in (1, args.devices):
                    t0 = time.perf_counter()
                    outcomes = run_fleet(model, entries[:n], settings, retries=0, **conn)
                    walls[n].append(time.perf_counter() - t0)
                    bad = [(o.device, o.error) for o in outcomes if not o.ok]
                    if bad:
                        raise SystemExit(f"devices failed: {bad}")
                print(f"round {rnd + 1}: 1 device {walls[1][-1]:.2f} s, {args.devices} devices "
                      f"{walls[args.devices][-1]:.2f} s", file=sys.stderr)
        finally:
            fleet.close()
    one, many = min(walls[1]), min(walls[args.devices])
    print(f"{'devices':>8s} {'wall s (best of ' + str(args.rounds) + ')':>22s}")
    print(f"{1:8d} {one:22.2f}\n{args.devices:8d} {many:22.2f}")
    record = {"devices": args.devices, "device_cpu": f"{quota:.2f}", "wall_one_s": f"{one:.2f}",
              "wall_fleet_s": f"{many:.2f}",
              "ratio": f"{many / one:.3f}", "target_met": str(many / one <= 1.5)}
    print("fleet " + " ".join(f"{k}={v}" for k, v in record.items()))
    return record


if __name__ == "__main__":
    main()

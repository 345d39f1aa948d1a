"""The device inventory, ~/.ssh/config aliases, a jump host, and the CLI over a real sshd."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edgewise.cli import main
from edgewise.device_tests.errors import DeviceError
from edgewise.device_tests.inventory import DeviceEntry, jump_entry, load_inventory, resolve

pytestmark = pytest.mark.host  # paramiko (SSH, ~/.ssh/config) and the TFLite fixture model


def _inventory(tmp_path: Path, sshd, **extra) -> Path:
    cache = tmp_path / "edgewise cache"
    lines = ["[devices.box]", 'address = "127.0.0.1"', f"port = {sshd.port}", f'user = "{sshd.user}"',
             f'key = "{sshd.identity}"', f'known_hosts = "{sshd.known_hosts}"', f'python = "{sys.executable}"',
             f"cache = {json.dumps(str(cache))}", 'tags = ["lab", "x86"]']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    lines += ["", "[devices.phone]", 'address = "192.0.2.7"', "port = 8022", 'user = "u0_a123"', 'jump = "box"',
              'tags = ["phone"]']
    path = tmp_path / "devices.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_inventory_tags_urls_and_ssh_config(tmp_path, sshd):
    inv = load_inventory(str(_inventory(tmp_path, sshd)))
    assert inv["box"].url == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}" and inv["box"].tags == ("lab", "x86")
    assert inv["phone"].port == 8022 and jump_entry(inv["phone"], inv) == inv["box"]
    assert [e.name for e in resolve(["box"], ["phone", "lab"], inv)] == ["box", "phone"]
    url = resolve(["ssh://pi@10.0.0.7:2222"])[0]
    assert (url.address, url.port, url.user) == ("10.0.0.7", 2222, "pi")
    config = tmp_path / "ssh_config"
    config.write_text("Host mypi\n  HostName 10.0.0.9\n  User pi\n  Port 2022\n  IdentityFile ~/.ssh/pi_key\n"
                      "  ProxyJump admin@bastion:2200\n")
    pi = resolve(["mypi"], ssh_config=str(config))[0]
    assert (pi.address, pi.user, pi.port, pi.jump) == ("10.0.0.9", "pi", 2022, "admin@bastion:2200")
    assert pi.key.endswith("/.ssh/pi_key")
    hop = jump_entry(pi, {}, ssh_config=str(config))
    assert (hop.address, hop.user, hop.port) == ("bastion", "admin", 2200)
    with pytest.raises(DeviceError, match="unknown device 'nope'.*box, phone"):
        resolve(["nope"], inventory=inv, ssh_config=str(config))
    with pytest.raises(DeviceError, match="tag 'gpu'"):
        resolve([], ["gpu"], inv)
    bad = tmp_path / "bad.toml"
    bad.write_text('[devices.x]\naddress = "h"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="devices.x: .*colour"):
        load_inventory(str(bad))
    assert DeviceEntry.from_dict(json.loads(json.dumps(inv["phone"].to_dict()))) == inv["phone"]


def test_bench_through_a_jump_host(tmp_path, sshd, tiny_tflite):
    from edgewise.device_tests.bench import BenchSettings, run_benchmark

    box = DeviceEntry("box", "127.0.0.1", sshd.port, sshd.user, key=sshd.identity, known_hosts=sshd.known_hosts)
    target = DeviceEntry("inner", "127.0.0.1", sshd.port, sshd.user, key=sshd.identity,
                         known_hosts=sshd.known_hosts, python=sys.executable, jump="box")
    r = run_benchmark(tiny_tflite, target, BenchSettings(runs=5, warmup=0, idle_s=0.1),
                      jump=jump_entry(target, {"box": box}))
    assert r.device == "inner" and r.latency_ms.n >= 5 and not r.partial


def test_cli_bench_results_and_clean(tmp_path, sshd, tiny_tflite, capsys):
    inv = str(_inventory(tmp_path, sshd))
    store = str(tmp_path / "results.sqlite")
    common = ["--inventory", inv]
    assert main(["bench", str(tiny_tflite), "--device", "box", *common, "--runs", "20", "--min-duration", "0",
                 "--idle", "0.1", "--store", store, "--json", str(tmp_path / "r.json"),
                 "--report", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "device:  box" in out and "latency: p50" in out and "energy:  not measured" in out
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert json.loads((tmp_path / "r.json").read_text())["device"] == "box"
    assert main(["results", "list", "--store", store, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["device"] for e in listed] == ["box"]
    assert main(["results", "import", str(tmp_path / "r.json"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["results", "show", "last", "--store", store, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["device"] == "box" and shown["latency_ms"]["n"] >= 20 and shown["energy_mj_per_inference"] is None
    assert main(["results", "compare", "1", "2", "--store", store]) == 0
    assert "within noise" in capsys.readouterr().out  # the same run, stored twice
    assert main(["results", "export", "1", "2", "--store", store, "-o", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text().count("| box |") == 2
    cache = tmp_path / "edgewise cache"
    assert any(cache.rglob("edgewise-payload.zip"))
    capsys.readouterr()
    assert main(["devices", "clean", "--device", "box", *common]) == 0
    assert "removed" in capsys.readouterr().out and not cache.exists()
    assert main(["devices", "list", *common]) == 0
    assert "phone" in capsys.readouterr().out

"""The whole mission once, through the CLI a user types: demo -> artifacts -> inspect, run, and
bench on a device over SSH (a real OpenSSH server on loopback with its own keys)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

CLI = [sys.executable, "-m", "edgewise.cli"]


def edgewise(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    r = edgewise("demo", "--out", str(out))
    assert r.returncode == 0, f"edgewise demo failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    report = json.loads((out / "report.json").read_text())
    return out, report, r


def _artifact(report: dict, fmt: str, precision: str) -> dict:
    found = [a for a in report["artifacts"] if a["format"] == fmt and a["precision"] == precision]
    assert found, f"no {precision} {fmt} artifact in {[(a['format'], a['precision']) for a in report['artifacts']]}"
    return found[0]


@pytest.mark.slow
def test_demo_to_device_benchmark_over_ssh(demo, sshd, tmp_path):
    out, report, run = demo
    base = report["baseline"]
    assert base["size_bytes"] > 0 and base["accuracy"] > 0.9
    for fmt in ("tflite", "onnx"):
        a = _artifact(report, fmt, "int8")
        path = out / a["path"]
        assert path.is_file() and path.stat().st_size == a["size_bytes"]
        assert a["accuracy"] >= base["accuracy"] - 0.03, a
        assert a["sparsity"] >= 0.70, a  # pruned to 75%: zeros survive into the deployed file
        assert a["latency_ms"]["p50"] > 0 and a["latency_ms"]["p50"] <= a["latency_ms"]["p99"]
        assert a["backend"]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert "int8" in run.stdout  # the summary table

    model = out / _artifact(report, "tflite", "int8")["path"]
    results = {}
    for backend in ("auto", "numpy"):
        dest = tmp_path / f"bench-{backend}.json"
        r = edgewise("bench", str(model), "--device", sshd.device, "--identity", sshd.identity,
                     "--known-hosts", sshd.known_hosts, "--python", sys.executable, "--backend", backend,
                     "--runs", "30", "--warmup", "3", "--min-duration", "0.2", "--json", str(dest),
                     "--store", str(tmp_path / "results.sqlite"))
        assert r.returncode == 0, r.stderr[-3000:]
        results[backend] = json.loads(dest.read_text())
    for backend, res in results.items():
        lat = res["latency_ms"]
        assert lat["n"] >= 30
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
        assert res["peak_rss_bytes"] > 10 * 2**20
    assert results["numpy"]["backend"]["name"] == "numpy"
    assert results["auto"]["backend"]["name"] == "litert"

    r = edgewise("results", "list", "--store", str(tmp_path / "results.sqlite"), "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    kept = json.loads(r.stdout)
    assert sorted(e["backend"] for e in kept) == ["litert", "numpy"]
    r = edgewise("results", "compare", str(kept[0]["id"]), str(kept[1]["id"]), "--store",
                 str(tmp_path / "results.sqlite"), "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    comparison = json.loads(r.stdout)
    assert comparison["same_model"] and not comparison["comparable"]  # same file, different backends
    assert any("backend name differs" in n for n in comparison["notes"]) and comparison["verdict"] == "not comparable"
    assert comparison["p50_ratio"] > 0


@pytest.mark.slow
def test_inspect_and_run_on_demo_artifacts(demo, tmp_path):
    out, report, _ = demo
    model = out / _artifact(report, "tflite", "int8")["path"]
    r = edgewise("inspect", str(model), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["format"] == "tflite"
    assert "CONV_2D" in info["ops"] and "FULLY_CONNECTED" in info["ops"]
    assert info["inputs"][0]["dtype"] == "int8"
    assert info["weight_sparsity"] >= 0.70

    from sklearn.datasets import load_digits

    x = (load_digits().images[:8] / 16.0).astype(np.float32)[..., None]
    np.save(tmp_path / "x.npy", x)
    outputs = {}
    for backend in ("litert-builtin", "numpy"):
        y = tmp_path / f"y-{backend}.npy"
        r = edgewise("run", str(model), "--input", str(tmp_path / "x.npy"), "--quantize", "--backend", backend,
                     "--output", str(y))
        assert r.returncode == 0, r.stderr
        outputs[backend] = np.load(y)
    assert outputs["numpy"].shape == (8, 10)
    np.testing.assert_array_equal(outputs["numpy"], outputs["litert-builtin"])
    np.testing.assert_allclose(outputs["numpy"].sum(axis=1), 1.0, atol=0.02)


def test_corrupt_model_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40)
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    for args in (["inspect", str(bad)], ["run", str(bad), "--input", str(tmp_path / "x.npy")]):
        r = edgewise(*args, timeout=120)
        assert r.returncode == 1
        assert str(bad) in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_every_subcommand_has_help():
    for sub in ("demo", "optimize", "run", "inspect", "bench"):
        r = edgewise(sub, "--help", timeout=60)
        assert r.returncode == 0 and "usage: edgewise " + sub in r.stdout

"""End-to-end benchmarks of a real .tflite over a real sshd and locally, and their failure modes."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgewise.device_tests.bench import BenchResult, BenchSettings, run_benchmark
from edgewise.device_tests.errors import AgentError, HostKeyError

QUICK = BenchSettings(runs=20, warmup=2, min_duration_s=0.0)


def _ssh(sshd, model, settings=QUICK, **kw):
    kw.setdefault("python", sys.executable)
    return run_benchmark(model, device=sshd.device, settings=settings, identity=sshd.identity,
                         known_hosts=sshd.known_hosts, **kw)


def _check_result(r: BenchResult, model, settings: BenchSettings):
    assert not r.partial and r.partial_reason is None
    lat = r.latency_ms
    assert lat.n == len(r.latencies_ns) >= settings.runs
    assert len(r.warmup_ns) == settings.warmup
    assert all(x > 0 for x in r.latencies_ns)
    s = np.sort(np.asarray(r.latencies_ns)) / 1e6
    assert lat.min == pytest.approx(s[0]) and lat.max == pytest.approx(s[-1])
    assert lat.mean == pytest.approx(s.mean()) and lat.std == pytest.approx(s.std())
    assert lat.min <= lat.p50 <= lat.p90 <= lat.p99 <= lat.max
    assert r.model_sha256 == __import__("hashlib").sha256(model.read_bytes()).hexdigest()
    m = r.memory
    assert m.peak_rss_bytes is not None and m.peak_rss_bytes >= m.rss_after_load_bytes >= m.rss_before_load_bytes > 0
    assert m.pss_after_load_bytes and m.pss_after_run_bytes and m.model_file_bytes == model.stat().st_size
    assert m.weight_bytes == 4 * (16 * 32 + 32 * 4)  # the float32 kernels; the converter drops zero biases
    assert set(r.backend) == {"name", "reason", "library", "options"}
    assert r.inputs[0]["shape"][1:] == [16] and r.inputs[0]["dtype"] == "float32"
    # the runtime came from the deployed zip, not from the host's editable install
    assert r.agent.runtime_path.startswith(r.deployment.payload_path)
    assert r.device_facts.python_version == platform.python_version()
    assert r.device_facts.numpy_version == np.__version__
    assert r.device_facts.cpu_cores == os.cpu_count()
    back = BenchResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r


def test_bench_over_ssh(sshd, tiny_tflite):
    lines = []
    r = _ssh(sshd, tiny_tflite, progress=lines.append)
    _check_result(r, tiny_tflite, QUICK)
    assert r.device == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"
    assert r.backend["name"] == "litert"  # the device's interpreter has ai-edge-litert
    assert any(l.startswith("measuring:") for l in lines) and lines[-1].startswith("done: p50")
    assert r.device_facts_after is not None


def test_bench_local_runs_the_same_agent(tiny_tflite):
    r = run_benchmark(tiny_tflite, device="local", settings=QUICK)
    _check_result(r, tiny_tflite, QUICK)
    assert r.agent.python_executable == sys.executable
    assert r.device == "local"


def test_run_ends_only_when_count_and_duration_are_both_met(tiny_tflite):
    few_but_long = BenchSettings(runs=3, warmup=0, min_duration_s=0.4)
    r = run_benchmark(tiny_tflite, device="local", settings=few_but_long)
    assert r.duration_s >= 0.4 and r.latency_ms.n > 3  # a call takes microseconds: duration decided
    many_but_short = BenchSettings(runs=400, warmup=0, min_duration_s=0.0)
    r = run_benchmark(tiny_tflite, device="local", settings=many_but_short)
    assert r.latency_ms.n == 400  # count decided, and the last batch ends exactly there


def test_numpy_backend_runs_in_the_bundle(tiny_tflite):
    r = run_benchmark(tiny_tflite, device="local", settings=BenchSettings(runs=5, warmup=1, backend="numpy"))
    assert r.backend["name"] == "numpy" and r.latency_ms.n >= 5


def test_device_without_numpy_gets_the_install_command(sshd, tiny_tflite, tmp_path):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bare_python = str(venv / "bin" / "python")
    assert subprocess.run([bare_python, "-c", "import numpy"], capture_output=True).returncode != 0
    with pytest.raises(AgentError) as err:
        _ssh(sshd, tiny_tflite, python=bare_python)
    e = err.value
    assert e.kind == "NumpyMissing"
    assert "sudo apt install python3-numpy" in e.message and "pkg install python-numpy" in e.message
    assert "pip install numpy" in e.message and bare_python in e.message


def test_corrupt_model_error_names_the_file(sshd, tmp_path):
    bad = tmp_path / "corrupt_model.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40)  # right magic, garbage tables
    with pytest.raises(AgentError) as err:
        _ssh(sshd, bad)
    assert err.value.kind == "ModelFormatError"
    assert str(bad) in err.value.message  # the host's path, not only the device's cache path


def test_missing_interpreter_is_reported(sshd, tiny_tflite):
    with pytest.raises(AgentError) as err:
        _ssh(sshd, tiny_tflite, python="/nonexistent/python3")
    assert err.value.kind == "PythonMissing" and "/nonexistent/python3" in err.value.message


def test_hostile_file_name_is_quoted(sshd, tiny_tflite, tmp_path):
    canary = "edgewise_quoting_canary"  # the device shell starts in $HOME
    odd = tmp_path / f"it's a $(touch {canary}) model; `touch {canary}` \\ \"x\".tflite"
    odd.write_bytes(tiny_tflite.read_bytes())
    r = _ssh(sshd, odd, settings=BenchSettings(runs=3, warmup=0))
    assert r.latency_ms.n >= 3 and r.deployment.model_path.endswith(odd.name)
    assert not (Path.home() / canary).exists() and not (Path.cwd() / canary).exists()


def test_dropped_link_keeps_the_partial_result(sshd, tiny_tflite):
    dropped = []

    def progress(line):
        if line.startswith("measuring:") and not dropped:
            dropped.append(sshd.drop_sessions())

    long_run = BenchSettings(runs=10**9, warmup=0, min_duration_s=30.0, timeout_s=30.0)
    r = _ssh(sshd, tiny_tflite, settings=long_run, progress=progress)
    assert dropped and dropped[0] >= 1
    assert r.partial and "dropped" in r.partial_reason and sshd.device.split("@")[1] in r.partial_reason
    assert r.latency_ms.n == len(r.latencies_ns) > 0 and r.duration_s < 30
    assert r.peak_rss_bytes is None  # the final report never arrived
    assert BenchResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    # the orphaned agent dies at its next write (broken pipe) instead of running on for 30 s
    deadline = time.monotonic() + 10
    while _agents_running(r.deployment.payload_path, "1000000000") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _agents_running(r.deployment.payload_path, "1000000000")


def _agents_running(*words) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if all(w.encode() in argv for w in words):
            return True
    return False


def test_wrong_host_key_is_refused(sshd, tiny_tflite, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    forged = tmp_path / "known_hosts"
    wrong_line = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    forged.write_text(f"{sshd.host_entry} {wrong_line}\n")
    before = forged.read_bytes()
    fp = lambda pub: subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True).stdout.split()[1]
    for accept in (False, True):  # accepting new keys never accepts a changed one
        with pytest.raises(HostKeyError) as err:
            run_benchmark(tiny_tflite, device=sshd.device, settings=QUICK, identity=sshd.identity,
                          known_hosts=str(forged), accept_new_host_key=accept, python=sys.executable)
        msg = str(err.value)
        assert "MISMATCH" in msg and sshd.host_entry in msg
        assert fp(other.with_suffix(".pub")) in msg  # what known_hosts records
        assert fp(sshd.folder / "host_ed25519.pub") in msg  # what the server offered
        assert forged.read_bytes() == before


def test_unknown_host_refused_then_accepted_and_recorded(sshd, tmp_path):
    from edgewise.device_tests.connectors import connect

    known = tmp_path / "ssh" / "known_hosts"
    with pytest.raises(HostKeyError) as err:
        connect(sshd.device, identity=sshd.identity, known_hosts=str(known))
    assert sshd.host_entry in str(err.value) and "accept_new_host_key" in str(err.value)
    assert not known.exists()

    with connect(sshd.device, identity=sshd.identity, known_hosts=str(known), accept_new_host_key=True) as c:
        assert c.run_shell_command("echo hi").stdout == "hi\n"
    assert known.read_text() == f"{sshd.host_entry} {sshd.host_key_line}\n"
    with connect(sshd.device, identity=sshd.identity, known_hosts=str(known)) as c:  # now known: no flag needed
        assert c.run_shell_command("exit 3").exit_status == 3
    assert [p.name for p in known.parent.iterdir()] == ["known_hosts"]  # no temp file left behind


def test_settings_validate_and_round_trip():
    s = BenchSettings(runs=7, warmup=0, min_duration_s=1.5, backend="numpy", num_threads=2, seed=3)
    assert BenchSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert s.agent_args()[:2] == ["--runs", "7"] and "--num-threads" in s.agent_args()
    for bad in (dict(runs=0), dict(warmup=-1), dict(min_duration_s=-1.0), dict(backend="tpu"), dict(num_threads=0),
                dict(sample_count=0), dict(timeout_s=0)):
        with pytest.raises(ValueError):
            BenchSettings(**bad)


def test_bench_onnx_model(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    path = tmp_path / "mlp.onnx"
    onnx.save(model, str(path))
    r = run_benchmark(path, device="local", settings=BenchSettings(runs=10, warmup=1))
    assert r.backend["name"] == "onnxruntime" and r.latency_ms.n >= 10
    assert r.inputs[0]["shape"] == ["batch", 16]


def test_bench_runs_a_bundle_as_the_model_it_holds(tiny_tflite, tmp_path):
    """A .ewb goes to the device as it is (the download a user ships) and is measured like its model."""
    from edgewise.bundle import pack

    bundle = tmp_path / "tiny.ewb"
    pack(tiny_tflite, bundle)
    r = run_benchmark(bundle, device="local", settings=QUICK)
    plain = run_benchmark(tiny_tflite, device="local", settings=QUICK)
    assert not r.partial and r.latency_ms.n >= QUICK.runs
    assert r.model_sha256 == __import__("hashlib").sha256(bundle.read_bytes()).hexdigest()
    assert r.memory.model_file_bytes == bundle.stat().st_size != tiny_tflite.stat().st_size
    assert r.memory.weight_bytes == plain.memory.weight_bytes == 4 * (16 * 32 + 32 * 4)
    assert r.inputs == plain.inputs and r.backend["name"] == plain.backend["name"]

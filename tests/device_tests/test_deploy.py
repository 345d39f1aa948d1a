"""The deployment zip, the content-addressed cache and the agent's start-up checks."""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

import edgewise.runtime
from edgewise.device_tests import deploy
from edgewise.device_tests.agent import BOOTSTRAP, EXIT_NUMPY_MISSING
from edgewise.device_tests.bench import BenchSettings, run_benchmark
from edgewise.device_tests.connectors import LocalConnector, connect
from edgewise.device_tests.errors import AgentError

from ..pythons import find_python

def test_payload_is_reproducible_and_complete():
    a, b = deploy.build_payload(), deploy.build_payload()
    assert a == b
    zf = zipfile.ZipFile(io.BytesIO(a))
    names = zf.namelist()
    assert names == sorted(names)
    assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    runtime_dir = Path(edgewise.runtime.__file__).parent
    for src in runtime_dir.rglob("*.py"):
        if "__pycache__" not in src.parts:
            rel = "edgewise/runtime/" + src.relative_to(runtime_dir).as_posix()
            assert zf.read(rel) == src.read_bytes()
    assert zf.read("edgewise/__init__.py") == b"" and zf.read("edgewise/device_tests/__init__.py") == b""
    assert zf.read("edgewise/device_tests/agent.py") == Path(deploy.__file__).with_name("agent.py").read_bytes()
    folders = {n.rsplit("/", 1)[0] for n in names}
    assert all(f"{f}/__init__.py" in names for f in folders)  # zipimport has no namespace packages
    assert not any(n.startswith(("edgewise/device_tests/bench", "edgewise/device_tests/connectors")) for n in names)


def test_deploy_is_content_addressed_and_skips_what_is_there(sshd, tiny_tflite, tmp_path):
    cache = str(tmp_path / "device cache")  # a space, to exercise the quoting
    with connect(sshd.device, identity=sshd.identity, known_hosts=sshd.known_hosts) as c:
        first = deploy.deploy(c, str(tiny_tflite), cache_dir=cache)
        again = deploy.deploy(c, str(tiny_tflite), cache_dir=cache)
    assert first.payload_uploaded and first.model_uploaded
    assert not again.payload_uploaded and not again.model_uploaded
    assert again.payload_path == first.payload_path and again.model_path == first.model_path
    model_sha = hashlib.sha256(tiny_tflite.read_bytes()).hexdigest()
    assert first.model_path == os.path.join(cache, model_sha[:16], tiny_tflite.name)
    payload = Path(first.payload_path)
    assert payload.parent.name == hashlib.sha256(payload.read_bytes()).hexdigest()[:16] == first.payload_sha256[:16]
    assert Path(first.model_path).read_bytes() == tiny_tflite.read_bytes()
    leftovers = [p for p in Path(cache).rglob("*") if ".part" in p.name]
    assert leftovers == []


def test_agent_imports_on_python_3_9_and_names_the_missing_numpy(tmp_path):
    py39 = find_python("3.9")
    zpath = tmp_path / "payload.zip"
    zpath.write_bytes(deploy.build_payload())
    # A venv without pip has no NumPy, whatever the base interpreter has installed.
    subprocess.run([py39, "-m", "venv", "--without-pip", str(tmp_path / "venv39")], check=True)
    py39 = str(tmp_path / "venv39" / "bin" / "python")
    p = subprocess.run([py39, "-c", BOOTSTRAP, str(zpath), "--model", "x.tflite"], capture_output=True, text=True)
    assert p.returncode == EXIT_NUMPY_MISSING
    assert '"kind":"NumpyMissing"' in p.stdout and "python3-numpy" in p.stderr


def test_too_old_python_is_named(tiny_tflite):
    py38 = find_python("3.8")
    with pytest.raises(AgentError) as err:
        run_benchmark(tiny_tflite, device="local", settings=BenchSettings(runs=1, warmup=0), python=py38)
    assert err.value.kind == "PythonTooOld" and "3.8" in err.value.message and "3.9 or newer" in err.value.message


def test_agent_command_quotes_every_word(tmp_path):
    fake = tmp_path / "py thon"  # an "interpreter" that prints its arguments, NUL-separated
    fake.write_text('#!/bin/sh\nfor a; do printf \'%s\\0\' "$a"; done\n')
    fake.chmod(0o755)
    args = ["--model", "a'b $(touch pwned) `touch pwned`.tflite", "--backend", "auto"]
    cmd = deploy.agent_command(str(fake), "/c/x y.zip", args)
    out = LocalConnector().run_shell_command(cmd).stdout.split("\0")[:-1]
    assert out == ["-u", "-c", BOOTSTRAP, "/c/x y.zip", *args]

"""A device without NumPy served by --install-deps: wheels fetched on the host, unpacked into the
cache on the device with its own Python (no pip, no index, nothing outside the cache)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from edgewise.device_tests.bench import BenchSettings, run_benchmark
from edgewise.device_tests.errors import AgentError
from edgewise.device_tests.inventory import DeviceEntry
from edgewise.device_tests.offline import DevicePython, clean, install_deps


def test_manylinux_tags_follow_the_device_glibc():
    pi = DevicePython("cpython", (3, 11), "", "aarch64", "glibc", "2.36", False, None)
    tags = pi.platforms()
    assert tags[0] == "manylinux_2_36_aarch64" and tags[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert len(tags) == 36 - 17 + 2
    old = DevicePython("cpython", (3, 9), "", "x86_64", "glibc", "2.17", False, None).platforms()
    assert old == ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    assert DevicePython("cpython", (3, 11), "", "aarch64", "", "", True, None).platforms() == []  # Termux: bionic


@pytest.mark.host
def test_install_deps_serves_a_device_without_numpy(sshd, tiny_tflite, tmp_path):
    venv = tmp_path / "device python"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    bare = str(venv / "bin" / "python")
    assert subprocess.run([bare, "-c", "import numpy"], capture_output=True).returncode != 0
    cache = tmp_path / "device home" / "edgewise"
    device = DeviceEntry("bare", "127.0.0.1", sshd.port, sshd.user, key=sshd.identity, known_hosts=sshd.known_hosts,
                         python=bare, cache=str(cache))
    settings = BenchSettings(runs=5, warmup=0, idle_s=0.1)
    with pytest.raises(AgentError) as err:
        run_benchmark(tiny_tflite, device, settings)
    assert err.value.kind == "NumpyMissing" and "--install-deps" in err.value.message

    said = install_deps(device, requirements=(f"numpy=={np.__version__}",))
    assert "installed numpy-" in said and str(cache / "site-packages") in said
    assert list((cache / "wheels").glob("numpy-*.whl"))
    assert subprocess.run([bare, "-c", "import numpy"], capture_output=True).returncode != 0  # the venv is untouched
    r = run_benchmark(tiny_tflite, device, settings)
    assert r.agent.python_executable == bare and r.agent.numpy_version == np.__version__
    assert r.agent.numpy_path.startswith(str(cache / "site-packages"))
    assert r.backend["name"] == "numpy" and r.latency_ms.n >= 5  # no LiteRT there: the runtime's own kernels
    assert "already" in install_deps(device, requirements=(f"numpy=={np.__version__}",))

    assert "KiB" in clean(device) and not cache.exists()
    assert os.path.isdir(venv)  # nothing outside the cache was touched


def test_termux_gets_the_pkg_line_instead_of_wheels(tmp_path, monkeypatch):
    venv = tmp_path / "termux python"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)],
                   check=True)
    monkeypatch.setenv("PREFIX", "/data/data/com.termux/files/usr")  # what Termux's shell exports
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    phone = DeviceEntry("phone", python=str(venv / "bin" / "python"))  # the local connector: same shell commands
    from edgewise.device_tests.errors import DeviceError

    with pytest.raises(DeviceError, match="pkg install python-numpy"):
        install_deps(phone)
    assert not (tmp_path / "cache" / "edgewise" / "wheels").exists()  # nothing downloaded, nothing pushed

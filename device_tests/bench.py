"""The host side of a benchmark: connect, read the device's facts, deploy, run the agent, collect.

A run has loadgen's three parts (MLPerf loadgen, https://github.com/mlcommons/inference/tree/master/loadgen):
the system under test is `Model.run` on the device, the sample source is the agent's pool of
seeded random inputs, and `BenchSettings` says when to stop: only when BOTH `runs` timed calls and
`min_duration_s` seconds are reached. Latencies travel in nanoseconds and are summarised in ms.

The agent streams its latencies in batches; if the link drops mid-run the result keeps every batch
received and is marked `partial` with the reason.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from edgewise.runtime.records import Record

from . import facts as _facts
from .agent import PREFIX, PROTOCOL
from .connectors import LocalConnector, connect
from .deploy import Deployment, agent_command, deploy
from .errors import AgentError, CommandTimeoutError, ConnectionLostError, DeviceError
from .facts import DeviceFacts
from .inventory import DeviceEntry
from .memory import MemoryUse, memory_use
from .validity import Flag, validity_flags
from .power.energy import EnergyEstimate, PowerTrace, estimate
from .stats import LatencyStats

from edgewise.runtime.model import BACKENDS  # the one list, as edgewise.runtime.load accepts
SCHEMA = 2  # 2: payload_* in deployment, power trace and energy, environment of the agent


@dataclass(frozen=True)
class BenchSettings(Record):
    """When a run stops and what it runs on. `sample_count` distinct inputs are cycled
    (loadgen's performance sample count). The agent is given `min_duration_s + timeout_s`
    seconds in all (start-up, loading, warm-up and the timed runs) before the host gives up.

    Power: `power` is "auto" (the best source the device has), "off", or a source prefix
    ("rapl", "hwmon", "pmic", "power_supply", "termux"); `idle_s` of idle baseline with the model
    loaded precede the warm-up; `power_interval_s` is the sampling period; `energy_s` is the
    length of the separate energy phase for sources that cost CPU; `sysfs_root` is where the
    device's /sys lives (a test points it at a fake tree)."""

    runs: int = 50
    warmup: int = 5
    min_duration_s: float = 0.0
    backend: str = "auto"
    num_threads: Optional[int] = None
    seed: int = 0
    sample_count: int = 4
    timeout_s: float = 600.0
    power: str = "auto"
    idle_s: float = 2.0
    power_interval_s: float = 0.05
    energy_s: float = 10.0
    sysfs_root: str = "/"
    cooldown_s: float = 0.0  # before the run, wait up to this long for the temperature to settle

    def __post_init__(self):
        if self.runs < 1:
            raise ValueError(f"runs must be at least 1, got {self.runs}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s must be >= 0, got {self.min_duration_s}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None, got {self.num_threads}")
        if self.sample_count < 1:
            raise ValueError(f"sample_count must be >= 1, got {self.sample_count}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        for name in ("idle_s", "energy_s", "cooldown_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.power_interval_s <= 0:
            raise ValueError(f"power_interval_s must be positive, got {self.power_interval_s}")

    def agent_args(self) -> List[str]:
        args = ["--runs", self.runs, "--warmup", self.warmup, "--min-duration-s", self.min_duration_s,
                "--backend", self.backend, "--seed", self.seed, "--samples", self.sample_count]
        if self.num_threads is not None:
            args += ["--num-threads", self.num_threads]
        args += ["--power", self.power, "--idle-s", self.idle_s, "--power-interval-s", self.power_interval_s,
                 "--energy-s", self.energy_s, "--sysfs-root", self.sysfs_root]
        return [str(a) for a in args]


@dataclass(frozen=True)
class AgentInfo(Record):
    """The interpreter that ran the agent on the device, its environment and backend libraries,
    and where it imported the runtime from. `venv` is the virtual environment's folder (sys.prefix)
    when the interpreter runs in one, else None; `libraries` maps each backend library the
    interpreter can import (numpy, ai_edge_litert, tflite_runtime, onnxruntime) to its version."""

    python_version: str
    python_executable: str
    numpy_version: str
    runtime_path: str
    machine: str
    prefix: str = ""
    venv: Optional[str] = None
    libraries: Dict[str, str] = field(default_factory=dict)
    numpy_path: Optional[str] = None

    def describe(self) -> str:
        """One line for the summary: which interpreter, in which environment, with which libraries."""
        env = f"venv {self.venv}" if self.venv else f"no venv, prefix {self.prefix or '?'}"
        libs = ", ".join(f"{k} {v}" for k, v in sorted(self.libraries.items())) or "none"
        return f"{self.python_executable} (Python {self.python_version}, {env}; libraries: {libs})"


@dataclass(frozen=True)
class BenchResult(Record):
    """One benchmark of one model on one device. `power` is the sampler's trace and `energy` the
    estimate drawn from it (edgewise.device_tests.power.energy); both say why when there is none."""

    model: str
    model_sha256: str
    model_bytes: int
    device: str
    settings: BenchSettings
    backend: Dict[str, Any]  # edgewise.runtime.BackendInfo.to_dict(): name, reason, library, options
    latency_ms: LatencyStats
    latencies_ns: Tuple[int, ...]
    warmup_ns: Tuple[int, ...]
    load_ms: Optional[float]
    memory: MemoryUse
    duration_s: float  # the timed phase, from the first timed call to the last
    timer_overhead_ns: Optional[int]
    device_facts: DeviceFacts
    device_facts_after: Optional[DeviceFacts]  # clocks, throttling and temperature after the run
    agent: Optional[AgentInfo]
    inputs: Tuple[Dict[str, Any], ...]  # TensorSpec.to_dict() of each input
    deployment: Optional[Deployment]
    started_at: str  # UTC, ISO 8601
    partial: bool = False
    partial_reason: Optional[str] = None
    power: Optional[PowerTrace] = None
    energy: Optional[EnergyEstimate] = None
    flags: Tuple[Flag, ...] = ()
    edgewise_version: str = ""
    schema: int = SCHEMA

    _derived = ("peak_rss_bytes",)

    @property
    def peak_rss_bytes(self) -> Optional[int]:
        return self.memory.peak_rss_bytes

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "BenchResult":
        if isinstance(d, dict) and isinstance(d.get("schema"), int) and d["schema"] > SCHEMA:
            raise ValueError(f"result schema {d['schema']} is newer than this edgewise understands ({SCHEMA})")
        return super().from_dict(d)


@dataclass
class _Session:
    """Collects the agent's events as they stream in (mutable on purpose: it is the receiver)."""

    report: Callable[[str], None]
    settings: BenchSettings
    hello: Optional[dict] = None
    loaded: Optional[dict] = None
    warmup: List[int] = field(default_factory=list)
    latencies: List[int] = field(default_factory=list)
    elapsed_ns: int = 0
    reported_ns: int = 0
    done: Optional[dict] = None
    error: Optional[dict] = None
    noise: List[str] = field(default_factory=list)

    def on_line(self, line: str) -> None:
        if not line.startswith(PREFIX):
            if line.strip():
                self.noise = (self.noise + [line])[-20:]
            return
        try:
            msg = json.loads(line[len(PREFIX):])
        except ValueError:
            self.noise = (self.noise + [line])[-20:]
            return
        event = msg.get("event")
        if event == "hello":
            self.hello = msg
            self.report(f"agent started: Python {msg.get('python')}, NumPy {msg.get('numpy')}")
        elif event == "loaded":
            self.loaded = msg
            b = msg.get("backend", {})
            self.report(f"model loaded on {b.get('name')} in {msg.get('load_ns', 0) / 1e6:.1f} ms; warming up")
        elif event == "power":
            self.report(f"power: sampling {msg.get('source')} ({msg.get('note')}); idle baseline for "
                        f"{self.settings.idle_s:g} s")
        elif event == "idle":
            self.report("idle baseline recorded; warming up")
        elif event == "warmup":
            self.warmup = [int(x) for x in msg.get("latencies_ns", [])]
        elif event == "batch":
            self.latencies.extend(int(x) for x in msg.get("latencies_ns", []))
            self.elapsed_ns = int(msg.get("elapsed_ns", self.elapsed_ns))
            if self.elapsed_ns - self.reported_ns >= 1e9 or not self.reported_ns:
                self.reported_ns = self.elapsed_ns
                self.report(f"measuring: {len(self.latencies)} runs in {self.elapsed_ns / 1e9:.1f} s")
        elif event == "done":
            self.done = msg
        elif event == "error":
            self.error = msg


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def open_device(device: Union[str, DeviceEntry], *, identity: Optional[str] = None,
                known_hosts: Optional[str] = None, accept_new_host_key: bool = False,
                jump: Optional[DeviceEntry] = None, connect_timeout: float = 15.0, dead_link_s: float = 30.0):
    """A connector for a URL ("local", "ssh://...") or an inventory entry (its key, known_hosts,
    and jump host, itself an entry, reached first)."""
    entry = device if isinstance(device, DeviceEntry) else None
    url = entry.url if entry else device
    key = (entry.key if entry and entry.key else None) or identity
    known = (entry.known_hosts if entry and entry.known_hosts else None) or known_hosts
    hop = None
    if jump is not None:
        hop = open_device(jump, identity=identity, known_hosts=known_hosts, accept_new_host_key=accept_new_host_key,
                          connect_timeout=connect_timeout, dead_link_s=dead_link_s)
    try:
        return connect(url, identity=key, known_hosts=known, accept_new_host_key=accept_new_host_key,
                       connect_timeout=connect_timeout, jump=hop, dead_link_s=dead_link_s)
    except BaseException:
        if hop is not None:
            hop.close()
        raise


def run_benchmark(
    model_path,
    device: Union[str, DeviceEntry] = "local",
    settings: Optional[BenchSettings] = None,
    *,
    identity: Optional[str] = None,
    known_hosts: Optional[str] = None,
    accept_new_host_key: bool = False,
    python: Optional[str] = None,
    progress: Optional[Callable[[str], None]] = None,
    jump: Optional[DeviceEntry] = None,
    connect_timeout: float = 15.0,
    dead_link_s: float = 30.0,
) -> BenchResult:
    """Benchmark `model_path` (.tflite or .onnx) on `device` ("local", "ssh://USER@HOST[:PORT]",
    or an inventory `DeviceEntry`, whose key, interpreter and jump host are used).

    `python` is the device's interpreter: "python3" over SSH and this interpreter
    (sys.executable) locally unless given. SSH host keys are checked against `known_hosts`
    (default ~/.ssh/known_hosts); an unknown host is refused unless `accept_new_host_key`.
    Raises AgentError when the agent reports a failure (bad model, no NumPy), ConnectError /
    HostKeyError when the device cannot be reached; a link lost mid-run gives a partial result.
    `progress` (a `Callable[[str], None]`, like the CLI's StepPrinter) gets a line per step and one
    a second while measuring.
    """
    from edgewise import __version__

    settings = settings or BenchSettings()
    model_path = os.fspath(model_path)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: no such model file")
    report = progress or (lambda p: None)
    started = _now()
    entry = device if isinstance(device, DeviceEntry) else None
    python = python or (entry.python if entry else None)
    report(f"connecting to {entry.name if entry else device}")
    with open_device(device, identity=identity, known_hosts=known_hosts, accept_new_host_key=accept_new_host_key,
                     jump=jump, connect_timeout=connect_timeout, dead_link_s=dead_link_s) as conn:
        py = python or (sys.executable if isinstance(conn, LocalConnector) else "python3")
        extra_flags: Tuple[Flag, ...] = ()
        if settings.cooldown_s > 0:
            extra_flags = _cool_down(conn, py, settings.cooldown_s, report)
        report(f"reading the facts of {conn.name}")
        facts_before = _facts.collect(conn, py, names=_facts.BEFORE_RUN)
        report("deploying the runtime, the agent and the model")
        dep = deploy(conn, model_path, cache_dir=entry.cache if entry else None)
        session = _Session(report, settings)
        cmd = agent_command(py, dep.payload_path, ["--model", dep.model_path, *settings.agent_args()])
        partial_reason = None
        try:
            res = conn.run_shell_command(cmd, timeout=settings.min_duration_s + settings.timeout_s,
                                         on_stdout_line=session.on_line)
        except (ConnectionLostError, CommandTimeoutError) as e:
            if not session.latencies:
                raise
            partial_reason = str(e)
        else:
            _raise_on_failure(conn.name, py, res, session, model_path, dep.model_path)
        facts_after = None
        if partial_reason is None:
            facts_after = _facts.collect(conn, py, names=_facts.AFTER_RUN)
    if session.loaded is not None and session.loaded.get("model_sha256") != dep.model_sha256:
        raise DeviceError(
            f"{conn.name}: the model on the device ({dep.model_path}) does not match {model_path} "
            f"(sha256 {session.loaded.get('model_sha256')} != {dep.model_sha256}); delete {dep.model_path} and rerun"
        )
    name = entry.name if entry is not None and entry.name != entry.url else conn.name
    result = _build(model_path, name, settings, session, facts_before, facts_after, dep, started,
                    partial_reason, __version__, extra_flags)
    report(f"done: p50 {result.latency_ms.p50:.3f} ms over {result.latency_ms.n} runs")
    return result


def _raise_on_failure(device: str, python: str, res, session: _Session, model_path: str, remote_model: str) -> None:
    if session.error is not None:
        message = str(session.error.get("message"))
        if remote_model in message:  # name the file the user gave, and say where the device read it
            message = message.replace(remote_model, model_path) + f" (read on the device from {remote_model})"
        raise AgentError(device, str(session.error.get("kind")), message)
    if res.exit_status != 0 or session.done is None:
        detail = res.describe()
        if res.exit_status == 127:
            hint = ("; is Python installed? The agent needs Python 3.9+ with NumPy (Debian/Raspberry Pi OS: "
                    "sudo apt install python3 python3-numpy; Termux: pkg install python python-numpy), or pass "
                    "--python (python=) the interpreter's path")
            raise AgentError(device, "PythonMissing", f"cannot start {python!r}: {detail}{hint}")
        if res.exit_status == 6 and "needs Python 3.9" in res.stderr:
            raise AgentError(device, "PythonTooOld", res.stderr.strip().splitlines()[-1])
        noise = (" Other output: " + " | ".join(session.noise[-5:])) if session.noise else ""
        raise AgentError(device, "AgentFailed", f"the agent stopped without a result ({detail}).{noise}")
    if session.hello is not None and session.hello.get("protocol") != PROTOCOL:
        raise AgentError(device, "ProtocolMismatch", f"agent protocol {session.hello.get('protocol')} != {PROTOCOL}")


COOLDOWN_POLL_S = 5.0
COOLDOWN_SETTLED_C = 0.5


def _cool_down(conn, python: str, limit_s: float, report) -> Tuple[Flag, ...]:
    """Poll the temperature every COOLDOWN_POLL_S until two reads in a row differ by less than
    COOLDOWN_SETTLED_C (the device has stopped cooling), or `limit_s` passes (then a flag)."""
    import time

    deadline = time.monotonic() + limit_s
    last = None
    while True:
        temp = _facts.collect(conn, python, names=_facts.TEMPERATURE).temperature_c
        if temp is None:
            return (Flag("cooldown", "--cooldown: the device reports no temperature; nothing to wait for"),)
        if last is not None and abs(temp - last) < COOLDOWN_SETTLED_C:
            report(f"cooldown: temperature settled at {temp:.1f} degC")
            return ()
        if time.monotonic() + COOLDOWN_POLL_S > deadline:
            return (Flag("cooldown", f"--cooldown: temperature still changing after {limit_s:g} s "
                                     f"({last} -> {temp:.1f} degC)"),)
        report(f"cooldown: {temp:.1f} degC, waiting for it to settle")
        last = temp
        time.sleep(COOLDOWN_POLL_S)


def _build(model_path, device, settings, s: _Session, facts_before, facts_after, dep, started, partial_reason,
           version, extra_flags=()) -> BenchResult:
    done = s.done or {}
    hello = s.hello or {}
    loaded = s.loaded or {}
    agent = None
    if s.hello is not None:
        agent = AgentInfo(str(hello.get("python")), str(hello.get("python_executable")), str(hello.get("numpy")),
                          str(hello.get("runtime")), str(hello.get("machine")), str(hello.get("prefix", "")),
                          hello.get("venv"), dict(hello.get("libraries") or {}), hello.get("numpy_path"))
    elapsed = done.get("elapsed_ns", s.elapsed_ns)
    power = PowerTrace.from_dict(done["power"]) if done.get("power") is not None else None
    energy = estimate(power) if power is not None else None
    latency = LatencyStats.from_ns(s.latencies)
    if s.hello is not None:  # the agent's own account of its interpreter (see facts.BEFORE_RUN)
        facts_before = dataclasses.replace(facts_before, python_version=str(hello.get("python")),
                                           numpy_version=str(hello.get("numpy")))
    return BenchResult(
        model=os.path.abspath(model_path),
        model_sha256=dep.model_sha256,
        model_bytes=os.path.getsize(model_path),
        device=device,
        settings=settings,
        backend=dict(loaded.get("backend") or {}),
        latency_ms=latency,
        latencies_ns=tuple(s.latencies),
        warmup_ns=tuple(s.warmup),
        load_ms=loaded["load_ns"] / 1e6 if "load_ns" in loaded else None,
        memory=memory_use(hello, loaded, done, model_path),
        duration_s=elapsed / 1e9,
        timer_overhead_ns=done.get("timer_overhead_ns"),
        device_facts=facts_before,
        device_facts_after=facts_after,
        agent=agent,
        inputs=tuple(loaded.get("inputs") or ()),
        deployment=dep,
        started_at=started,
        partial=partial_reason is not None,
        partial_reason=partial_reason,
        power=power,
        energy=energy,
        flags=validity_flags(latency, facts_before, facts_after, energy, partial_reason, tuple(extra_flags)),
        edgewise_version=version,
    )

"""The host side of a benchmark: connect, read the device's facts, deploy, run the agent, collect.

A run has loadgen's three parts (MLPerf loadgen, https://github.com/mlcommons/inference/tree/master/loadgen):
the system under test is `Model.run` on the device, the sample source is the agent's pool of
seeded random inputs, and `BenchSettings` says when to stop: only when BOTH `runs` timed calls and
`min_duration_s` seconds are reached. Latencies travel in nanoseconds and are summarised in ms.

The agent streams its latencies in batches; if the link drops mid-run the result keeps every batch
received and is marked `partial` with the reason.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import facts as _facts
from .agent import PREFIX, PROTOCOL
from .connectors import LocalConnector, connect
from .deploy import Deployment, agent_command, deploy
from .errors import AgentError, CommandTimeoutError, ConnectionLostError, DeviceError
from .facts import DeviceFacts
from .stats import LatencyStats

from edgewise.runtime.model import BACKENDS  # the one list, as edgewise.runtime.load accepts
SCHEMA = 1


@dataclass(frozen=True)
class BenchSettings:
    """When a run stops and what it runs on. `sample_count` distinct inputs are cycled
    (loadgen's performance sample count). The agent is given `min_duration_s + timeout_s`
    seconds in all (start-up, loading, warm-up and the timed runs) before the host gives up."""

    runs: int = 50
    warmup: int = 5
    min_duration_s: float = 0.0
    backend: str = "auto"
    num_threads: Optional[int] = None
    seed: int = 0
    sample_count: int = 4
    timeout_s: float = 600.0

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

    def agent_args(self) -> List[str]:
        args = ["--runs", self.runs, "--warmup", self.warmup, "--min-duration-s", self.min_duration_s,
                "--backend", self.backend, "--seed", self.seed, "--samples", self.sample_count]
        if self.num_threads is not None:
            args += ["--num-threads", self.num_threads]
        return [str(a) for a in args]

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "BenchSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class AgentInfo:
    """The interpreter that ran the agent on the device, and where it imported the runtime from."""

    python_version: str
    python_executable: str
    numpy_version: str
    runtime_path: str
    machine: str

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "AgentInfo":
        return cls(**d)


@dataclass(frozen=True)
class BenchResult:
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
    peak_rss_bytes: Optional[int]  # VmHWM (or ru_maxrss) of the agent after the run
    rss_before_load_bytes: Optional[int]
    rss_after_load_bytes: Optional[int]
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
    edgewise_version: str = ""
    schema: int = SCHEMA

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("settings", "latency_ms", "device_facts", "device_facts_after", "agent", "deployment"):
            d[k] = d[k].to_dict() if d[k] is not None else None
        d["latencies_ns"] = list(self.latencies_ns)
        d["warmup_ns"] = list(self.warmup_ns)
        d["inputs"] = [dict(i) for i in self.inputs]
        d["backend"] = dict(self.backend)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "BenchResult":
        if d.get("schema", SCHEMA) > SCHEMA:
            raise ValueError(f"result schema {d.get('schema')} is newer than this edgewise understands ({SCHEMA})")
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        kw["settings"] = BenchSettings.from_dict(d["settings"])
        kw["latency_ms"] = LatencyStats.from_dict(d["latency_ms"])
        kw["device_facts"] = DeviceFacts.from_dict(d["device_facts"])
        after = d.get("device_facts_after")
        kw["device_facts_after"] = DeviceFacts.from_dict(after) if after is not None else None
        kw["agent"] = AgentInfo.from_dict(d["agent"]) if d.get("agent") is not None else None
        kw["deployment"] = Deployment.from_dict(d["deployment"]) if d.get("deployment") is not None else None
        kw["latencies_ns"] = tuple(int(x) for x in d["latencies_ns"])
        kw["warmup_ns"] = tuple(int(x) for x in d["warmup_ns"])
        kw["inputs"] = tuple(dict(i) for i in d.get("inputs", ()))
        return cls(**kw)


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


def run_benchmark(
    model_path,
    device: str = "local",
    settings: Optional[BenchSettings] = None,
    *,
    identity: Optional[str] = None,
    known_hosts: Optional[str] = None,
    accept_new_host_key: bool = False,
    python: Optional[str] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> BenchResult:
    """Benchmark `model_path` (.tflite or .onnx) on `device` ("local" or "ssh://USER@HOST[:PORT]").

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
    report(f"connecting to {device}")
    with connect(device, identity=identity, known_hosts=known_hosts, accept_new_host_key=accept_new_host_key) as conn:
        py = python or (sys.executable if isinstance(conn, LocalConnector) else "python3")
        report(f"reading the facts of {conn.name}")
        facts_before = _facts.collect(conn, py)
        report("deploying the runtime, the agent and the model")
        dep = deploy(conn, model_path)
        session = _Session(report, settings)
        cmd = agent_command(py, dep.bundle_path, ["--model", dep.model_path, *settings.agent_args()])
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
    result = _build(model_path, conn.name, settings, session, facts_before, facts_after, dep, started,
                    partial_reason, __version__)
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
            hint = (f"; is Python installed? The agent needs Python 3.9+ with NumPy (Debian/Raspberry Pi OS: "
                    f"sudo apt install python3 python3-numpy; Termux: pkg install python python-numpy), or pass "
                    f"python= the interpreter's path")
            raise AgentError(device, "PythonMissing", f"cannot start {python!r}: {detail}{hint}")
        if res.exit_status == 6 and "needs Python 3.9" in res.stderr:
            raise AgentError(device, "PythonTooOld", res.stderr.strip().splitlines()[-1])
        noise = (" Other output: " + " | ".join(session.noise[-5:])) if session.noise else ""
        raise AgentError(device, "AgentFailed", f"the agent stopped without a result ({detail}).{noise}")
    if session.hello is not None and session.hello.get("protocol") != PROTOCOL:
        raise AgentError(device, "ProtocolMismatch", f"agent protocol {session.hello.get('protocol')} != {PROTOCOL}")


def _build(model_path, device, settings, s: _Session, facts_before, facts_after, dep, started, partial_reason,
           version) -> BenchResult:
    done = s.done or {}
    peaks = [v for v in (done.get("vmhwm_bytes"), done.get("ru_maxrss_bytes")) if v is not None]
    hello = s.hello or {}
    loaded = s.loaded or {}
    agent = None
    if s.hello is not None:
        agent = AgentInfo(str(hello.get("python")), str(hello.get("python_executable")), str(hello.get("numpy")),
                          str(hello.get("runtime")), str(hello.get("machine")))
    elapsed = done.get("elapsed_ns", s.elapsed_ns)
    return BenchResult(
        model=os.path.abspath(model_path),
        model_sha256=dep.model_sha256,
        model_bytes=os.path.getsize(model_path),
        device=device,
        settings=settings,
        backend=dict(loaded.get("backend") or {}),
        latency_ms=LatencyStats.from_ns(s.latencies),
        latencies_ns=tuple(s.latencies),
        warmup_ns=tuple(s.warmup),
        load_ms=loaded["load_ns"] / 1e6 if "load_ns" in loaded else None,
        peak_rss_bytes=max(peaks) if peaks else None,
        rss_before_load_bytes=hello.get("rss_before_load_bytes"),
        rss_after_load_bytes=loaded.get("rss_after_load_bytes"),
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
        edgewise_version=version,
    )

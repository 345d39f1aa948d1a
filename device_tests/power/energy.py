"""Energy per inference from a power trace: the records the agent sends and the host's estimate.

    E_inference = (P_run - P_idle) x T_run / N

P_idle is the mean power while the loaded model sits idle before the run (the baseline),
P_run the mean power during the N timed inferences that took T_run seconds (MLPerf Power's
idle-subtracted "energy per inference"; MLPerf Tiny's EnergyRunner likewise integrates power over
the inference window). Mean power is the plain mean of regularly spaced samples for a power
sensor, and total energy over total time for an energy counter (RAPL), unwrapping the counter at
its `max_energy_range_uj`. The uncertainty is one standard error:
sqrt(sem_run^2 + sem_idle^2) x T_run / N. For a power sensor sem = sample std / sqrt(n), which
treats samples as independent (a fuel gauge that averages internally is not, so it is a lower
bound there); for an energy counter the sampled span is exact and sem = the interval powers' std
x the uncovered share of the phase. No source, too few samples, or a battery being charged give None with the reason: never a
made-up number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

from edgewise.runtime.records import Record

MIN_SAMPLES = 3  # per phase, for a mean and a spread


@dataclass(frozen=True)
class PowerPhase(Record):
    """A stretch of the run in the agent's clock (perf_counter_ns): "idle" or "run"."""

    name: str
    start_ns: int
    end_ns: int
    inferences: int = 0


@dataclass(frozen=True)
class PowerTrace(Record):
    """What the agent's power sampler saw. `values` are watts (kind "power") or a microjoule
    counter (kind "energy"); `charging` is per sample (None: the source cannot tell). `source` is
    None when the device has no usable source; `notes` then say what was looked at and why not."""

    source: Optional[str] = None
    kind: str = ""
    note: str = ""
    notes: Tuple[str, ...] = ()
    intrusive: bool = False
    wrap_uj: Optional[int] = None
    interval_s: float = 0.0
    t_ns: Tuple[int, ...] = ()
    values: Tuple[Optional[float], ...] = ()
    charging: Tuple[Optional[bool], ...] = ()
    phases: Tuple[PowerPhase, ...] = ()
    errors: Tuple[str, ...] = ()

    def phase(self, name: str) -> Optional[PowerPhase]:
        return next((p for p in self.phases if p.name == name), None)

    def watts(self) -> Tuple[List[float], List[float]]:
        """(seconds from the first sample, watts) for plotting; counters become interval powers."""
        if not self.t_ns:
            return [], []
        t0 = self.t_ns[0]
        if self.kind != "energy":
            pts = [(t, v) for t, v in zip(self.t_ns, self.values) if v is not None]
            return [(t - t0) / 1e9 for t, _ in pts], [v for _, v in pts]
        ts, ws = [], []
        pts = [(t, v) for t, v in zip(self.t_ns, self.values) if v is not None]
        for (ta, ea), (tb, eb) in zip(pts, pts[1:]):
            if tb > ta:
                ts.append(((ta + tb) / 2 - t0) / 1e9)
                ws.append(_delta_uj(ea, eb, self.wrap_uj) / 1e6 / ((tb - ta) / 1e9))
        return ts, ws


@dataclass(frozen=True)
class EnergyEstimate(Record):
    """Energy per inference with its standard error, or None with `reason`."""

    source: Optional[str]
    energy_mj_per_inference: Optional[float]
    uncertainty_mj: Optional[float]
    idle_w: Optional[float] = None
    idle_w_sem: Optional[float] = None
    run_w: Optional[float] = None
    run_w_sem: Optional[float] = None
    run_s: Optional[float] = None
    inferences: int = 0
    idle_samples: int = 0
    run_samples: int = 0
    charging: Optional[bool] = None
    reason: str = ""


def _delta_uj(e0: float, e1: float, wrap_uj: Optional[int]) -> float:
    d = e1 - e0
    if d < 0 and wrap_uj:
        d += wrap_uj + 1  # the counter passed max_energy_range_uj and restarted at 0
    return d


def _mean_sem(xs: List[float]) -> Tuple[float, Optional[float]]:
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return mean, None
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    return mean, math.sqrt(var / n)


def phase_power(trace: PowerTrace, phase: PowerPhase) -> Tuple[Optional[float], Optional[float], int]:
    """(mean W, its standard error, samples used) over the samples taken inside `phase`."""
    pts = [(t, v) for t, v in zip(trace.t_ns, trace.values) if v is not None and phase.start_ns <= t <= phase.end_ns]
    if trace.kind != "energy":
        if not pts:
            return None, None, 0
        mean, sem = _mean_sem([v for _, v in pts])
        return mean, sem, len(pts)
    steps = [(_delta_uj(ea, eb, trace.wrap_uj), tb - ta) for (ta, ea), (tb, eb) in zip(pts, pts[1:]) if tb > ta]
    if not steps:
        return None, None, 0
    total_j = sum(d for d, _ in steps) / 1e6
    total_s = sum(dt for _, dt in steps) / 1e9
    _, spread = _mean_sem([d / 1e6 / (dt / 1e9) for d, dt in steps])
    # A counter's total over the sampled span is exact (the noise of each interval telescopes
    # away); what is unknown is the power in the uncovered edges of the phase.
    phase_s = (phase.end_ns - phase.start_ns) / 1e9
    edge = max(0.0, phase_s - total_s) / phase_s if phase_s > 0 else 0.0
    sem = None if spread is None else spread * math.sqrt(len(steps)) * edge
    return total_j / total_s, sem, len(steps)


def estimate(trace: Optional[PowerTrace]) -> EnergyEstimate:
    """Energy per inference from the trace (see the module docstring for the formula)."""
    if trace is None or trace.source is None:
        why = "; ".join(trace.notes) if trace is not None and trace.notes else "no power source on this device"
        return EnergyEstimate(None, None, None, reason=why)
    charging = any(c is True for c in trace.charging) if any(c is not None for c in trace.charging) else None
    idle, run = trace.phase("idle"), trace.phase("run")
    if idle is None or run is None or run.inferences <= 0:
        return EnergyEstimate(trace.source, None, None, charging=charging,
                              reason="the run ended before an idle baseline and a measured run were both recorded")
    p_idle, s_idle, n_idle = phase_power(trace, idle)
    p_run, s_run, n_run = phase_power(trace, run)
    run_s = (run.end_ns - run.start_ns) / 1e9
    base = dict(idle_w=p_idle, idle_w_sem=s_idle, run_w=p_run, run_w_sem=s_run, run_s=run_s,
                inferences=run.inferences, idle_samples=n_idle, run_samples=n_run, charging=charging)
    if charging and (trace.source.startswith("power_supply") or trace.source.startswith("termux")):
        return EnergyEstimate(trace.source, None, None, reason="the battery was charging: its fuel gauge then "
                              "reads the charge rate, not the device's draw; unplug and rerun", **base)
    if p_idle is None or p_run is None or n_idle < MIN_SAMPLES or n_run < MIN_SAMPLES:
        return EnergyEstimate(trace.source, None, None, reason=f"too few power samples (idle {n_idle}, run {n_run}; "
                              f"need {MIN_SAMPLES} each): lengthen --min-duration or --idle", **base)
    per_inference_s = run_s / run.inferences
    energy_mj = (p_run - p_idle) * per_inference_s * 1e3
    sem = math.sqrt((s_run or 0.0) ** 2 + (s_idle or 0.0) ** 2)
    reason = ""
    if abs(p_run - p_idle) < 2 * sem:
        reason = "the difference between running and idle power is within two standard errors of the sensor's noise"
    return EnergyEstimate(trace.source, energy_mj, sem * per_inference_s * 1e3, reason=reason, **base)

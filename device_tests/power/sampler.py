"""A background thread that samples one power probe on its own schedule.

It runs beside the timed loop: one sysfs read every `interval_s` (50 ms by default, a few tens of
microseconds each) holds the GIL for a negligible share of the run; `benchmarks/harness_overhead.py`
measures that share. Timestamps are `time.perf_counter_ns()`, the agent's clock for the timed
runs, so the host can cut the trace into the idle and running phases exactly. Stdlib only.
"""
from __future__ import annotations

import threading
import time
from typing import List, Optional, Tuple

from .probes import Probe

#: At 20 samples a second this bounds the trace at about 40 minutes; after that every other
#: sample is dropped (the estimate stays unbiased, only coarser).
MAX_SAMPLES = 50_000


class PowerSampler:
    """`start()`, then `stop()`; `samples` holds (t_ns, value, charging) and `errors` the failures."""

    def __init__(self, probe: Probe, interval_s: float = 0.05):
        self.probe = probe
        self.interval_s = max(interval_s, probe.min_interval_s)
        self.samples: List[Tuple[int, Optional[float], Optional[bool]]] = []
        self.errors: List[str] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "PowerSampler":
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="edgewise-power", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def sample_once(self) -> None:
        try:
            r = self.probe.sample()
        except Exception as e:  # OSError, a timed-out command: kept and reported, the run goes on
            if len(self.errors) < 20:
                self.errors.append(f"{type(e).__name__}: {e}")
            return
        # the read's midpoint would be more exact for slow commands; sysfs reads take microseconds
        self.samples.append((time.perf_counter_ns(), r.value, r.charging))
        if len(self.samples) >= MAX_SAMPLES:
            del self.samples[1::2]

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval_s)

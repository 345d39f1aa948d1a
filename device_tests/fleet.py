"""One benchmark on many devices at once, each isolated from the others.

Every device runs in its own thread with its own connection: one that cannot be reached, fails,
or drops its link mid-run costs only its own row. Transient failures (a refused or reset TCP
connection, a link lost, a timeout: `errors.is_transient`) are retried with a growing pause; a
run whose link dropped keeps what it measured, marked partial, if no retry does better. A wrong
host key, a refused login or an agent's error are final.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from .bench import BenchResult, BenchSettings, run_benchmark
from .errors import DeviceError, is_transient
from .inventory import DeviceEntry, jump_entry

MAX_PARALLEL = 32


@dataclass(frozen=True)
class Outcome:
    """What one device gave: a result (maybe partial), or the error that stopped it."""

    device: str
    result: Optional[BenchResult]
    error: Optional[str]
    attempts: int

    @property
    def ok(self) -> bool:
        return self.result is not None and not self.result.partial


def run_fleet(
    model_path,
    devices: Sequence[DeviceEntry],
    settings: Optional[BenchSettings] = None,
    *,
    inventory: Optional[Dict[str, DeviceEntry]] = None,
    retries: int = 2,
    retry_pause_s: float = 2.0,
    progress: Optional[Callable[[str, str], None]] = None,
    **connection,
) -> List[Outcome]:
    """Benchmark `model_path` on every device at once; outcomes in the order of `devices`.

    `progress(device_name, line)` is called from the devices' threads (serialised by a lock).
    `connection` goes to `run_benchmark` (identity, known_hosts, accept_new_host_key, python,
    connect_timeout).
    """
    lock = threading.Lock()

    def say(name: str, line: str) -> None:
        if progress is not None:
            with lock:
                progress(name, line)

    def one(entry: DeviceEntry) -> Outcome:
        best: Optional[BenchResult] = None
        error: Optional[str] = None
        attempt = 0
        for attempt in range(1, retries + 2):
            try:
                jump = jump_entry(entry, inventory or {})
                result = run_benchmark(model_path, entry, settings, jump=jump,
                                       progress=lambda line: say(entry.name, line), **connection)
            except DeviceError as e:
                error = str(e)
                if not is_transient(e) or attempt > retries:
                    break
            except Exception as e:  # one device's unexpected failure is its row, not the fleet's end
                error = f"{entry.name}: {type(e).__name__}: {e}"
                break
            else:
                if not result.partial:
                    return Outcome(entry.name, result, None, attempt)
                if best is None or result.latency_ms.n > best.latency_ms.n:
                    best = result
                error = result.partial_reason
                if attempt > retries:
                    break
            pause = retry_pause_s * attempt
            say(entry.name, f"attempt {attempt} failed ({error}); retrying in {pause:g} s")
            time.sleep(pause)
        return Outcome(entry.name, best, error, attempt)

    if not devices:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(devices)), thread_name_prefix="edgewise-fleet") as pool:
        return list(pool.map(one, devices))

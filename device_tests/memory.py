"""What a benchmark reports about memory, each figure with its definition.

The agent sends the text of its own /proc/self/status and /proc/self/smaps_rollup at three
moments (started, model loaded, run done); the host parses them with the same fact parsers as
every other device output (`facts.memory`). TFLite's benchmark_model calls its single memory
figure "only APPROXIMATE"; these are the kernel's own accounts, named.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

from edgewise.runtime.records import Record

from .facts import memory as _mem

#: Shown beside each figure in reports.
DEFINITIONS = {
    "rss_before_load_bytes": "resident set (VmRSS) of the agent with NumPy and the runtime imported, before loading",
    "rss_after_load_bytes": "resident set (VmRSS) right after loading the model, before any inference",
    "peak_rss_bytes": "peak resident set (VmHWM, or getrusage ru_maxrss where /proc is missing) over the whole run",
    "pss_after_load_bytes": "proportional set size (smaps_rollup Pss) after loading: shared pages split between "
                            "the processes that map them",
    "pss_after_run_bytes": "proportional set size (smaps_rollup Pss) after the timed runs",
    "model_file_bytes": "size of the model file",
    "weight_bytes": "bytes of the model's constant tensors as a runtime holds them, dense (weights, biases, quantization tables)",
}


@dataclass(frozen=True)
class MemoryUse(Record):
    """Memory of the agent process on the device (see DEFINITIONS); None where the OS has no such figure."""

    rss_before_load_bytes: Optional[int] = None
    rss_after_load_bytes: Optional[int] = None
    peak_rss_bytes: Optional[int] = None
    pss_after_load_bytes: Optional[int] = None
    pss_after_run_bytes: Optional[int] = None
    model_file_bytes: Optional[int] = None
    weight_bytes: Optional[int] = None


def weight_bytes(model_path: str) -> Optional[int]:
    """Bytes of the model's constant tensors as a runtime holds them (edgewise.runtime.summary's
    count: dense, whatever the file stores); a .ewb bundle is counted as the model it decodes to."""
    from edgewise.runtime.bundle import decode_model, env_key, is_bundle
    from edgewise.runtime.model import read_source
    from edgewise.runtime.summary import constant_bytes

    data, source, base_dir = read_source(model_path)
    if is_bundle(data):
        data, base_dir = decode_model(data, env_key(), source=source), None
    return constant_bytes(data, source, base_dir)


def memory_use(hello: Dict[str, Any], loaded: Dict[str, Any], done: Dict[str, Any], model_path: str) -> MemoryUse:
    """The agent's three reports into one MemoryUse (events it never sent leave None)."""
    def status(msg):
        return _mem.parse_proc_status(msg.get("proc_status") or "")

    def pss(msg):
        return _mem.parse_smaps_rollup(msg.get("smaps_rollup") or "").pss_bytes

    peaks = [v for v in (status(done).peak_rss_bytes, done.get("ru_maxrss_bytes")) if v is not None]
    return MemoryUse(
        rss_before_load_bytes=status(hello).rss_bytes or hello.get("rss_before_load_bytes"),
        rss_after_load_bytes=status(loaded).rss_bytes or loaded.get("rss_after_load_bytes"),
        peak_rss_bytes=max(peaks) if peaks else None,
        pss_after_load_bytes=pss(loaded),
        pss_after_run_bytes=pss(done),
        model_file_bytes=os.path.getsize(model_path),
        weight_bytes=weight_bytes(model_path),
    )

"""A plain-text table of a report, for the terminal."""
from __future__ import annotations

from typing import List, Optional, Sequence

from .schema import Report


def _pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def _ms(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.3f}"


def _table(header: Sequence[str], rows: List[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def summary_table(report: Report) -> str:
    """Baseline and one row per artifact: size, zeros, accuracy (preferred and per backend), latency."""
    backends = sorted({b.backend for a in report.artifacts for b in a.accuracy_by_backend})
    header = (["artifact", "format", "size", "zeros", "accuracy"] + [f"acc[{b}]" for b in backends]
              + ["p50 ms", "p90 ms", "p99 ms", "bench backend"])
    source = "onnx" if report.baseline.path.lower().endswith(".onnx") else "keras"
    rows = [[f"baseline ({'ONNX' if source == 'onnx' else 'Keras'})", source, _kib(report.baseline.size_bytes), "-", _pct(report.baseline.accuracy)]
            + [""] * len(backends) + ["-", "-", "-", ""]]
    for a in report.artifacts:
        accs = []
        for b in backends:
            r = next((x for x in a.accuracy_by_backend if x.backend == b), None)
            accs.append("" if r is None else (_pct(r.accuracy) if r.status == "ok" else r.status))
        lat, bench = a.latency_ms, a.benchmark
        rows.append([a.path, f"{a.format}/{a.precision}", _kib(a.size_bytes), f"{a.sparsity:.1%}",
                     _pct(a.accuracy)] + accs
                    + [_ms(lat.p50 if lat else None), _ms(lat.p90 if lat else None), _ms(lat.p99 if lat else None),
                       (bench.backend or ("error" if bench.error else "")) if bench else "not run"])
    out = _table(header, rows)
    if report.bundle is not None:
        b = report.bundle
        out += (f"\n\ndeployable artifact {b.path} (from {b.source}): download {_kib(b.download_bytes)}, "
                f"disk once unpacked {_kib(b.disk_bytes)}, weights in RAM {_kib(b.ram_bytes)}; "
                f"accuracy {_pct(b.accuracy)} [numpy]")
    if report.steps:
        out = steps_table(report) + "\n\n" + out
    if report.search is not None:
        out += "\n\n" + report.search.message
    notes = [f"  {a.path} [{b.backend}] {b.status}: {b.error}" for a in report.artifacts for b in a.accuracy_by_backend
             if b.status != "ok"]
    notes += [f"  {a.path} benchmark: {a.benchmark.error}" for a in report.artifacts
              if a.benchmark is not None and a.benchmark.error]
    if notes:
        out += "\n\nnot measured:\n" + "\n".join(notes)
    return out


def _kib_or_dash(n: Optional[int]) -> str:
    return "-" if n is None else _kib(n)


def steps_table(report: Report) -> str:
    """One row per recipe step: accuracy before and after, sizes, zeros, parameters, epochs, time."""
    header = ["step", "accuracy", "drop (points)", "size", "deployable", "zeros", "parameters", "epochs", "time"]
    rows = [[f"{s.index}. {s.name}", f"{_pct(s.accuracy_before)} -> {_pct(s.accuracy)}",
             "-" if s.accuracy_drop is None else f"{s.accuracy_drop:+.2f}", _kib(s.size_bytes),
             _kib_or_dash(s.deployable_bytes), f"{s.sparsity:.1%}", str(s.parameters),
             f"{s.epochs}" + (f" (guard x{s.guard_retries})" if s.guard_retries else ""), f"{s.wall_time_s:.1f} s"]
            for s in report.steps]
    return _table(header, rows)

"""Reports of benchmark results: a JSON summary, Markdown for a pull request, self-contained HTML.

The JSON summary of one result is the short form other tools read:
`{device, board, model, backend, latency_ms: {p50, p90, p99, mean, std, min, n}, peak_rss_mb,
energy_mj_per_inference (or null), energy_uncertainty_mj, power_source, flags: [{code, message}]}`.
The HTML page embeds its figures (matplotlib, PNG as data: URIs): per result a latency histogram
with its CDF, and the power trace with the idle and run phases marked.
"""
from __future__ import annotations

import base64
import html
import io
import os
from typing import Dict, List, Sequence, Tuple

from edgewise._extras import pyplot

from .bench import BenchResult
from .memory import DEFINITIONS

MIB = 2 ** 20


def summary(result: BenchResult) -> Dict[str, object]:
    lat = result.latency_ms
    e = result.energy
    return {
        "device": result.device,
        "board": result.device_facts.board,
        "model": os.path.basename(result.model),
        "model_sha256": result.model_sha256,
        "backend": result.backend.get("name"),
        "backend_library": result.backend.get("library"),
        "latency_ms": {"p50": lat.p50, "p90": lat.p90, "p99": lat.p99, "mean": lat.mean, "std": lat.std,
                       "min": lat.min, "n": lat.n},
        "latency_ci95_ms": {"p50": lat.p50_ci, "p90": lat.p90_ci, "p99": lat.p99_ci, "mean": lat.mean_ci},
        "peak_rss_mb": None if result.peak_rss_bytes is None else result.peak_rss_bytes / MIB,
        "energy_mj_per_inference": e.energy_mj_per_inference if e else None,
        "energy_uncertainty_mj": e.uncertainty_mj if e else None,
        "power_source": e.source if e else None,
        "energy_note": e.reason if e else "no power trace",
        "flags": [f.to_dict() for f in result.flags],
        "partial": result.partial,
        "started_at": result.started_at,
    }


def _f(x, fmt="{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def _energy(result: BenchResult) -> str:
    e = result.energy
    if e is None or e.energy_mj_per_inference is None:
        return "n/a"
    return f"{e.energy_mj_per_inference:.4g} ± {_f(e.uncertainty_mj, '{:.2g}')} mJ ({e.source})"


def _rows(results: Sequence[BenchResult]) -> Tuple[Tuple[str, ...], List[Tuple[str, ...]]]:
    header = ("device", "board", "model", "backend", "p50 ms", "p90 ms", "p99 ms", "mean ± std ms", "n",
              "peak RSS MiB", "energy / inference", "flags")
    rows = []
    for r in results:
        lat = r.latency_ms
        rows.append((r.device, r.device_facts.board or "-", os.path.basename(r.model), str(r.backend.get("name")),
                     _f(lat.p50), _f(lat.p90), _f(lat.p99), f"{_f(lat.mean)} ± {_f(lat.std)}", str(lat.n),
                     _f(None if r.peak_rss_bytes is None else r.peak_rss_bytes / MIB, "{:.1f}"), _energy(r),
                     "; ".join(f"{f.code}: {f.message}" for f in r.flags) or "ok"))
    return header, rows


def markdown(results: Sequence[BenchResult]) -> str:
    header, rows = _rows(results)
    cell = lambda s: s.replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    notes = ["", "Latency: nearest-rank percentiles of `perf_counter_ns` around each call; energy per inference = "
                 "(mean running power − idle power) × run time / inferences, ± one standard error."]
    return "\n".join(lines + notes) + "\n"


def _pyplot():
    return pyplot("the HTML report")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def latency_figure(result: BenchResult) -> str:
    """Histogram of the latencies and their empirical CDF on a second axis, p50/p99 marked."""
    plt = _pyplot()
    ms = sorted(x / 1e6 for x in result.latencies_ns)
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    if ms:
        ax.hist(ms, bins=min(60, max(5, len(ms) // 10)), color="#4c72b0", alpha=0.8)
        cdf = ax.twinx()
        cdf.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], color="#c44e52")
        cdf.set_ylabel("CDF")
        cdf.set_ylim(0, 1)
        for p, style in (("p50", "--"), ("p99", ":")):
            ax.axvline(getattr(result.latency_ms, p), color="black", linestyle=style, label=p)
        ax.legend(loc="center right")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("runs")
    return _png(fig)


def power_figure(result: BenchResult) -> str:
    """The sampled power (W) over time with the idle baseline and the measured run shaded."""
    trace = result.power
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    t, w = trace.watts()
    ax.plot(t, w, color="#55a868", linewidth=1)
    t0 = trace.t_ns[0]
    for phase, color in (("idle", "#cccccc"), ("run", "#f0c987")):
        p = trace.phase(phase)
        if p is not None:
            ax.axvspan((p.start_ns - t0) / 1e9, (p.end_ns - t0) / 1e9, color=color, alpha=0.5, label=phase)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"power (W), {trace.source}")
    ax.legend(loc="upper left")
    return _png(fig)


def to_html(results: Sequence[BenchResult], title: str = "edgewise benchmark results") -> str:
    """One self-contained page: the per-device table, then per result its figures, flags and memory."""
    esc = html.escape
    header, rows = _rows(results)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
             "body{font-family:sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}.flag{color:#a00}</style></head><body>",
             f"<h1>{esc(title)}</h1><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    for i, r in enumerate(results, 1):
        parts.append(f"<h2>{i}. {esc(os.path.basename(r.model))} on {esc(r.device)} "
                     f"({esc(r.device_facts.board or '')}), {esc(r.started_at)}</h2>")
        if r.flags:
            parts.append("<ul>" + "".join(f"<li class='flag'><b>{esc(f.code)}</b>: {esc(f.message)}</li>"
                                          for f in r.flags) + "</ul>")
        parts.append(f"<img alt='latency histogram and CDF' src='{latency_figure(r)}'>")
        if r.power is not None and r.power.source is not None and r.power.t_ns:
            parts.append(f"<img alt='power trace' src='{power_figure(r)}'>")
        e = r.energy
        parts.append(f"<p>Energy: {esc(_energy(r))}" + (f" — {esc(e.reason)}" if e and e.reason else "") + "</p>")
        parts.append("<table>" + "".join(
            f"<tr><td>{esc(k)}</td><td>{_f(getattr(r.memory, k), '{:,}')}</td><td>{esc(v)}</td></tr>"
            for k, v in DEFINITIONS.items()) + "</table>")
    parts.append("</body></html>")
    return "\n".join(parts)

"""report.html: one self-contained page (inline CSS, figures as base64 PNG), readable offline."""
from __future__ import annotations

import base64
import html
from typing import Optional

from . import plots
from .schema import Report


def _e(v) -> str:
    return html.escape(str(v))


def _pct(v: Optional[float]) -> str:
    return "&ndash;" if v is None else f"{v * 100:.2f}%"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.bad{color:#b00}.muted{color:#777}
img{max-width:100%;margin:.5em 1em .5em 0}"""


def render_html(report: Report) -> str:
    """The whole page as a string."""
    b = report.baseline
    rows = []
    for a in report.artifacts:
        lat = a.latency_ms
        v = a.verification.outputs[0] if a.verification.outputs else None
        err = f"{v.metric.replace('_', ' ')} {v.measured:.3g} &le; {v.tolerance:.3g}" if v else ""
        top1 = f"{v.top1_agreement:.3f}" if v is not None and v.top1_agreement is not None else "&ndash;"
        rows.append(
            f"<tr><td>{_e(a.path)}</td><td>{_e(a.format)}/{_e(a.precision)}</td><td>{a.size_bytes / 1024:.1f} KiB</td>"
            f"<td>{a.sparsity.overall:.1%}</td><td>{_pct(a.accuracy)} <span class=muted>({_e(a.backend)})</span></td>"
            + ("".join(f"<td>{v:.3f}</td>" for v in (lat.p50, lat.p90, lat.p99)) if lat else "<td>&ndash;</td>" * 3)
            + f"<td>{err}<br><span class=muted>top-1 agreement {top1}</span></td></tr>")
    backend_rows = []
    for a in report.artifacts:
        for r in a.backends:
            cls = "" if r.status == "ok" else " class=bad"
            detail = _e(r.error) if r.error else _e(f"{r.library}: {r.reason}")
            backend_rows.append(f"<tr><td>{_e(a.path)}</td><td>{_e(r.backend)}</td><td{cls}>{_e(r.status)}</td>"
                                f"<td>{_pct(r.accuracy)}</td><td style='text-align:left'>{detail}</td></tr>")
    steps = "".join(f"<tr><td>{_e(s.name)}</td><td>{s.duration_s:.2f} s</td><td>{_pct(s.accuracy)}</td>"
                    f"<td style='text-align:left'>{_e(s.detail)}</td></tr>" for s in report.steps)
    bench = next((a.benchmark for a in report.artifacts if a.benchmark is not None and a.benchmark.record), None)
    device = ""
    if bench:
        f = bench.record.get("device_facts") or {}
        what = ", ".join(_e(v) for v in (f.get("cpu_model"), f.get("cpu_cores") and f"{f['cpu_cores']} cores",
                                          f.get("machine"), f.get("os"), f.get("python_version")
                                          and f"Python {f['python_version']}") if v)
        device = f"<p>Benchmarked on <b>{_e(bench.device)}</b>{': ' + what if what else ''}.</p>"
    env = "".join(f"<tr><td>{_e(k)}</td><td style='text-align:left'>{_e(v)}</td></tr>" for k, v in report.environment)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgewise report</title><style>{_CSS}</style></head><body>
<h1>edgewise report</h1>
<p class=muted>{_e(report.created_utc)} &middot; {report.eval_samples} held-out samples &middot;
{report.calibration_samples} calibration samples &middot; total {report.wall_time_s:.1f} s</p>
<p>Baseline (Keras, {_e(b.path)}): {b.size_bytes / 1024:.1f} KiB, {b.parameters} parameters
({b.parameters * 4 / 1024:.1f} KiB as float32), accuracy {_pct(b.accuracy)}.</p>
<h2>Artifacts</h2>
<table><tr><th>artifact</th><th>format</th><th>size</th><th>zeros in weights</th><th>accuracy</th>
<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>verification</th></tr>{''.join(rows)}</table>
{device}
{_img(plots.size_vs_accuracy(report), "size vs accuracy")}
{_img(plots.latency_percentiles(report), "latency percentiles")}
<h2>Accuracy by backend</h2>
<table><tr><th>artifact</th><th>backend</th><th>status</th><th>accuracy</th><th>detail</th></tr>
{''.join(backend_rows)}</table>
<h2>Steps</h2>
<table><tr><th>step</th><th>time</th><th>accuracy after</th><th>detail</th></tr>{steps}</table>
<h2>Environment</h2><table>{env}</table>
</body></html>
"""

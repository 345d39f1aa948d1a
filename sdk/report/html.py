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
        checks = a.check.outputs if a.verification else ()
        v = checks[0] if checks else None
        err = f"{v.metric.replace('_', ' ')} {v.measured:.3g} &le; {v.tolerance:.3g}" if v else ""
        top1 = f"{v.top1_agreement:.3f}" if v is not None and v.top1_agreement is not None else "&ndash;"
        rows.append(
            f"<tr><td>{_e(a.path)}</td><td>{_e(a.format)}/{_e(a.precision)}</td><td>{a.size_bytes / 1024:.1f} KiB</td>"
            f"<td>{a.sparsity:.1%}</td><td>{_pct(a.accuracy)} <span class=muted>({_e(a.backend)})</span></td>"
            + ("".join(f"<td>{v:.3f}</td>" for v in (lat.p50, lat.p90, lat.p99)) if lat else "<td>&ndash;</td>" * 3)
            + f"<td>{err}<br><span class=muted>top-1 agreement {top1}</span></td></tr>")
    backend_rows = []
    for a in report.artifacts:
        for r in a.accuracy_by_backend:
            cls = "" if r.status == "ok" else " class=bad"
            detail = _e(r.error) if r.error else _e(f"{r.library}: {r.reason}")
            backend_rows.append(f"<tr><td>{_e(a.path)}</td><td>{_e(r.backend)}</td><td{cls}>{_e(r.status)}</td>"
                                f"<td>{_pct(r.accuracy)}</td><td style='text-align:left'>{detail}</td></tr>")
    timings = "".join(f"<tr><td>{_e(s.name)}</td><td>{s.duration_s:.2f} s</td><td>{_pct(s.accuracy)}</td>"
                      f"<td style='text-align:left'>{_e(s.detail)}</td></tr>" for s in report.timings)
    bench = next((a.benchmark for a in report.artifacts if a.benchmark is not None and a.benchmark.record), None)
    device = ""
    if bench:
        f = bench.record.get("device_facts") or {}
        what = ", ".join(_e(v) for v in (f.get("cpu_model"), f.get("cpu_cores") and f"{f['cpu_cores']} cores",
                                          f.get("machine"), f.get("os"), f.get("python_version")
                                          and f"Python {f['python_version']}") if v)
        device = f"<p>Benchmarked on <b>{_e(bench.device)}</b>{': ' + what if what else ''}.</p>"
    env = "".join(f"<tr><td>{_e(k)}</td><td style='text-align:left'>{_e(v)}</td></tr>" for k, v in sorted(report.environment.items()))
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
{_error(report)}{_recipe(report)}{_steps(report)}{_search(report)}{_sensitivity(report)}
<h2>Timings</h2>
<table><tr><th>stage</th><th>time</th><th>accuracy after</th><th>detail</th></tr>{timings}</table>
<h2>Environment</h2><table>{env}</table>
</body></html>
"""


def _kib(n) -> str:
    return "&ndash;" if n is None else f"{n / 1024:.1f} KiB"


def _error(report: Report) -> str:
    return f"<p class=bad><b>The run stopped:</b> {_e(report.error)}</p>" if report.error else ""


def _recipe(report: Report) -> str:
    if report.recipe is None:
        return ""
    import json

    text = json.dumps(report.recipe.to_dict(), indent=1)
    return (f"<h2>Recipe</h2><p>{_e(report.recipe.describe())}</p>"
            f"<details><summary>recipe JSON</summary><pre>{_e(text)}</pre></details>")


def _steps(report: Report) -> str:
    if not report.steps:
        return ""
    bound = "" if report.max_accuracy_drop is None else f" (guard: at most {report.max_accuracy_drop:g} points per step)"
    rows = []
    for s in report.steps:
        distinct = ", ".join(f"{_e(l.name)}: {l.distinct}" for l in s.layers)
        rows.append(f"<tr><td>{s.index}. {_e(s.name)}</td><td>{_pct(s.accuracy_before)} &rarr; {_pct(s.accuracy)}</td>"
                    f"<td>{'&ndash;' if s.accuracy_drop is None else f'{s.accuracy_drop:+.2f}'}</td>"
                    f"<td>{_kib(s.size_bytes)}</td><td>{_kib(s.deployable_bytes)}</td><td>{s.sparsity:.1%}</td>"
                    f"<td>{s.parameters}</td><td>{s.epochs}{f' (guard x{s.guard_retries})' if s.guard_retries else ''}"
                    f"</td><td>{s.wall_time_s:.1f} s</td><td style='text-align:left;font-size:80%'>{distinct}</td></tr>")
    return (f"<h2>Steps{bound}</h2><table><tr><th>step</th><th>accuracy</th><th>drop (points)</th><th>size</th>"
            "<th>deployable</th><th>zeros</th><th>parameters</th><th>epochs</th><th>time</th>"
            f"<th>distinct values per layer</th></tr>{''.join(rows)}</table>")


def _search(report: Report) -> str:
    s = report.search
    if s is None:
        return ""
    rows = "".join(
        f"<tr{' class=bad' if c.state != 'complete' else ''}><td>{c.trial}{' &#9733;' if c.trial == s.best else ''}"
        f"</td><td>{_e(c.state)}</td><td style='text-align:left'>{_e(c.recipe.describe() if c.recipe else '')}</td>"
        f"<td>{_kib(c.size_bytes)}</td><td>{_pct(c.accuracy)}</td>"
        f"<td>{'&ndash;' if c.accuracy_drop is None else f'{c.accuracy_drop:+.2f}'}</td>"
        f"<td>{'&ndash;' if c.sparsity is None else f'{c.sparsity:.1%}'}</td><td>{c.bits or '&ndash;'}</td>"
        f"<td>{'&ndash;' if c.latency_ms is None else f'{c.latency_ms:.3f}'}</td>"
        f"<td>{'&ndash;' if c.wall_time_s is None else f'{c.wall_time_s:.1f} s'}</td>"
        f"<td>{'yes' if c.meets_bounds else 'no'}</td><td style='text-align:left'>{_e(c.note)}</td></tr>"
        for c in s.candidates)
    return (f"<h2>Budget search</h2><p>{_e(s.message)}</p><p class=muted>bounds: {_e(s.bounds.describe())}; "
            f"study {_e(s.study)} in {_e(s.storage)}, sampler {_e(s.sampler)}</p>"
            f"{_img(plots.search_pareto(report), 'size vs accuracy of every candidate')}"
            "<table><tr><th>trial</th><th>state</th><th>recipe</th><th>size</th><th>accuracy</th><th>drop</th>"
            "<th>zeros</th><th>bits</th><th>p50 ms</th><th>time</th><th>meets bounds</th><th>note</th></tr>"
            f"{rows}</table>")


def _sensitivity(report: Report) -> str:
    t = report.sensitivity
    if t is None:
        return ""
    columns = [(tech, v) for tech in ("prune", "cluster", "lowrank", "quantize") for v in t.settings(tech)]
    head = "".join(f"<th>{_e(tech)} {v:g}</th>" for tech, v in columns)
    rows = "".join(f"<tr><td>{_e(layer)}</td><td>{t.parameters[layer]}</td>"
                   + "".join(f"<td>{_drop(t.drop(layer, tech, v))}</td>" for tech, v in columns) + "</tr>"
                   for layer in t.layers())
    return (f"<h2>Sensitivity (accuracy drop in points, each layer alone, no fine-tuning)</h2>"
            f"<p class=muted>baseline {_pct(t.baseline_accuracy)} on {t.samples} samples</p>"
            f"{_img(plots.sensitivity(report), 'sensitivity per layer')}"
            f"<table><tr><th>layer</th><th>weights</th>{head}</tr>{rows}</table>")


def _drop(v) -> str:
    return "&ndash;" if v is None else f"{v:+.2f}"

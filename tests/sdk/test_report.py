"""The report: lossless to_dict/from_dict, a self-contained HTML page with PNG figures, a text table."""
import base64
import json
import re

import pytest

from edgewise.report import Report, read_json, summary_table, write_html, write_json

pytestmark = pytest.mark.host


def test_round_trip_through_json(demo, tmp_path):
    _, report, _ = demo
    d = json.loads(json.dumps(report.to_dict()))
    again = Report.from_dict(d)
    assert again == report
    assert again.to_dict() == d
    write_json(report, tmp_path / "r.json")
    assert read_json(tmp_path / "r.json") == report


def test_html_is_self_contained_with_png_figures(demo):
    out, report, _ = demo
    page = (out / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in page and "https://" not in page
    for a in report.artifacts:
        assert a.path in page


def test_write_html_replaces_atomically(demo, tmp_path):
    _, report, _ = demo
    target = tmp_path / "report.html"
    target.write_text("old")
    write_html(report, target)
    assert target.read_text().startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_summary_table(demo):
    _, report, _ = demo
    text = summary_table(report)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("artifact"))
    assert header.split()[:5] == ["artifact", "format", "size", "zeros", "accuracy"]
    for a in report.artifacts:
        row = next(line for line in lines if line.startswith(a.path + " "))
        assert f"{a.accuracy * 100:.2f}%" in row and f"{a.sparsity:.1%}" in row
    assert lines[0].split()[:3] == ["step", "accuracy", "drop"]  # the steps table comes first
    assert any(line.startswith("1. prune 80% (magnitude)") for line in lines)


def test_other_schema_versions_are_refused(demo):
    _, report, _ = demo
    d = json.loads(json.dumps(report.to_dict()))
    d["version"] = 1
    with pytest.raises(ValueError, match="report schema version 1 is not 2"):
        Report.from_dict(d)

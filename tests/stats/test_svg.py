"""The SVG renderer: well-formed XML, accessible names, escaped text, no script or external resource."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from idp.stats.svg import bar_chart
from idp.stats.svg import day_chart
from idp.stats.svg import nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg" and root.get("role") == "img"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "<script" not in svg.lower() and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
    return root


def test_bar_chart_is_accessible_xml_with_escaped_labels(app):
    with app.test_request_context("/"):
        svg = bar_chart("levels", "Logins <by> level", "Bars & counts", [("<script>x</script>", 3), ("Cao", 1)])
    root = _parse(svg)
    assert root.find(f"{NS}title").text == "Logins <by> level"
    assert root.find(f"{NS}desc").text == "Bars & counts"
    bars = root.findall(f"{NS}rect")[1:]
    assert [bar.find(f"{NS}title").text for bar in bars] == ["<script>x</script>: 3", "Cao: 1"]
    assert float(bars[0].get("width")) > float(bars[1].get("width")) > 0


def test_day_chart_stacks_and_lines(app):
    days = ["10/11", "11/11", "12/11"]
    series = [("Thuế", [1, 1, 0]), ("Y tế", [0, 1, 1])]
    with app.test_request_context("/"):
        stacked = _parse(day_chart("by-portal", "Per day", "Stacked", days, series, number=lambda n: f"{n:,}"))
        lines = _parse(day_chart("by-portal-lines", "Per day", "Lines", days, series, lines=True))
    marks = [r.find(f"{NS}title").text for r in stacked.findall(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert marks == ["10/11 · Thuế: 1", "11/11 · Thuế: 1", "11/11 · Y tế: 1", "12/11 · Y tế: 1"]
    assert len(lines.findall(f"{NS}polyline")) == 2
    legend = [t.text for t in stacked.findall(f"{NS}text")]
    assert "Thuế" in legend and "Y tế" in legend and "10/11" in legend


def test_empty_chart_says_so_in_the_page_language(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        svg = day_chart("empty", "Per day", "Nothing", ["10/11"], [("A", [0])])
    texts = [t.text for t in _parse(svg).findall(f"{NS}text")]
    assert texts == ["No data for this period."]


def test_nice_ticks():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(12345)[-1] >= 12345

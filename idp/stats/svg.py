"""A small SVG chart renderer for server-side pages: horizontal bars, stacked columns or lines per day.

Accessible by construction: the <svg> has role="img", a <title> and a <desc> (referenced by
aria-labelledby), every mark repeats its value in its own <title>, and the page shows the same
numbers in a data table (the charts never carry information the table lacks). No JavaScript, no
stylesheet, no external resource: presentation attributes only (a strict CSP allows them).
Colours keep at least 3:1 contrast against white (WCAG 1.4.11) and stacked segments are separated
by white lines. Texts arrive translated; the renderer's own text goes through gettext. Every text is
escaped here, so templates include a chart with `|safe`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence

from flask_babel import gettext as _
from markupsafe import escape

PALETTE = ("#1f5fa8", "#b3401f", "#2e7d32", "#6a3d9a", "#8a6d00", "#00767a", "#a4286a", "#5f5f5f")
INK = "#1a1a1a"
GRID = "#767676"  # 4.5:1 on white
WIDTH = 760
FONT = 'font-family="sans-serif" font-size="12"'

Number = Callable[[int], str]


def nice_ticks(maximum: int, count: int = 5) -> list[int]:
    """0 and round steps (1, 2 or 5 × 10^n) up to at least `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return list(range(0, (math.ceil(maximum / step) + 1) * step, step))


def _open(chart_id: str, title: str, description: str, height: int) -> list[str]:
    cid = escape(chart_id)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{cid}-title {cid}-desc" '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" focusable="false" '
            f'class="chart" id="{cid}">',
            f'<title id="{cid}-title">{escape(title)}</title>',
            f'<desc id="{cid}-desc">{escape(description)}</desc>',
            f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>']


def _empty(parts: list[str], y: int) -> str:
    parts.append(f'<text x="{WIDTH // 2}" y="{y}" text-anchor="middle" fill="{INK}" {FONT}>'
                 f'{escape(_("No data for this period."))}</text></svg>')
    return "".join(parts)


def bar_chart(chart_id: str, title: str, description: str, items: Sequence[tuple[str, int]],
              number: Number = str) -> str:
    """Horizontal bars, one per (label, value), largest first as given; the value printed after each bar."""
    row, top, label_width = 26, 10, 230
    height = top * 2 + row * max(len(items), 1)
    parts = _open(chart_id, title, description, height)
    if not items or not any(value for _, value in items):
        return _empty(parts, height // 2 + 4)
    maximum = max(value for _, value in items)
    span = WIDTH - label_width - 90
    for i, (label, value) in enumerate(items):
        y = top + i * row
        width = round(span * value / maximum, 1) if maximum else 0
        text = escape(label)
        parts.append(f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" fill="{INK}" {FONT}>{text}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{width}" height="{row - 8}" '
                     f'fill="{PALETTE[0]}"><title>{text}: {escape(number(value))}</title></rect>')
        parts.append(f'<text x="{label_width + width + 6}" y="{y + 17}" fill="{INK}" {FONT}>'
                     f'{escape(number(value))}</text>')
    parts.append(f'<line x1="{label_width}" y1="{top}" x2="{label_width}" y2="{height - top}" stroke="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _axis(parts: list[str], ticks: list[int], left: int, top: int, plot_h: int, number: Number) -> None:
    for tick in ticks:
        y = round(top + plot_h - plot_h * tick / ticks[-1], 1)
        parts.append(f'<line x1="{left}" y1="{y}" x2="{WIDTH - 10}" y2="{y}" stroke="{GRID}" stroke-width="0.5"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{escape(number(tick))}</text>')


def _day_labels(parts: list[str], days: Sequence[str], left: int, slot: float, y: int) -> None:
    every = max(1, math.ceil(len(days) / 12))
    for i in range(0, len(days), every):
        x = round(left + slot * (i + 0.5), 1)
        parts.append(f'<text x="{x}" y="{y}" text-anchor="middle" fill="{INK}" {FONT}>{escape(days[i])}</text>')


def _legend(parts: list[str], names: Sequence[str], y: int) -> None:
    x = 60
    for i, name in enumerate(names):
        if x > WIDTH - 150:
            x, y = 60, y + 18
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 17}" y="{y}" fill="{INK}" {FONT}>{escape(name)}</text>')
        x += 30 + 7 * len(name)


def day_chart(chart_id: str, title: str, description: str, days: Sequence[str],
              series: Sequence[tuple[str, Sequence[int]]], number: Number = str, lines: bool = False) -> str:
    """Per day: stacked columns (one colour per series), or one line per series when `lines`."""
    left, top, plot_h = 60, 12, 220
    legend_rows = 1 + sum(len(name) * 7 + 30 for name, _ in series) // (WIDTH - 120)
    height = top + plot_h + 30 + 20 * legend_rows + 10
    parts = _open(chart_id, title, description, height)
    totals = [sum(values[i] for _, values in series) for i in range(len(days))]
    if not days or not any(totals):
        return _empty(parts, height // 2)
    peak = max(max(values) for _, values in series) if lines else max(totals)
    ticks = nice_ticks(peak)
    _axis(parts, ticks, left, top, plot_h, number)
    slot = (WIDTH - 10 - left) / len(days)
    scale = plot_h / ticks[-1]
    for index, (name, values) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        if lines:
            points = " ".join(f"{round(left + slot * (i + 0.5), 1)},{round(top + plot_h - v * scale, 1)}"
                              for i, v in enumerate(values))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
                         f'<title>{escape(name)}</title></polyline>')
            continue
        for i, value in enumerate(values):
            if not value:
                continue
            below = sum(series[k][1][i] for k in range(index))
            y = round(top + plot_h - (below + value) * scale, 1)
            parts.append(f'<rect x="{round(left + slot * i + slot * 0.1, 1)}" y="{y}" '
                         f'width="{round(max(slot * 0.8, 1), 1)}" height="{round(value * scale, 1)}" fill="{colour}" '
                         f'stroke="#ffffff" stroke-width="0.5"><title>{escape(days[i])} · {escape(name)}: '
                         f'{escape(number(value))}</title></rect>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - 10}" y2="{top + plot_h}" stroke="{INK}"/>')
    _day_labels(parts, days, left, slot, top + plot_h + 16)
    _legend(parts, [name for name, _ in series], top + plot_h + 42)
    parts.append("</svg>")
    return "".join(parts)

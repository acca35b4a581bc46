"""Charts drawn as SVG on the server: no CDN, no JavaScript, and the page works in any browser.

Each chart is an image with a <title> and <desc> (role="img", aria-labelledby); the figures also
appear as text in a data table next to it (the template's job), which is what screen readers read.
Colours come from CSS classes (`series-0`, `series-1`, ...) so each member's brand applies, with
fill attributes as a fallback when the stylesheet is missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask_babel import format_number
from markupsafe import Markup, escape

from chorus.i18n import gettext as _

FALLBACK_FILLS = ("#1f4e79", "#f2a900", "#5a5a5a")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    """One stacked layer of a chart: a name for the legend, one value per label, and how a tooltip
    says one value ("3 confirmed"): the caller words it, with the plural of the reader's language."""

    name: str
    values: Sequence[int]
    figure: Callable[[int], str]


def _fill(index: int) -> str:
    return f'class="series-{index}" fill="{FALLBACK_FILLS[index % len(FALLBACK_FILLS)]}"'


def _scale_top(largest: int, ticks: int = 4) -> tuple[int, int]:
    """A round axis maximum and step (1, 2 or 5 times a power of ten), so gridlines read easily."""
    if largest <= 0:
        return ticks, 1
    rough = largest / ticks
    magnitude = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return step * math.ceil(largest / step), step


def _open(width: int, height: int, chart_id: str, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for index, layer in enumerate(series):
        parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" {_fill(index)}/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y}" {FONT} class="label">{escape(layer.name)}</text>')
        x += 28 + 7 * len(layer.name)
    return parts


def _tooltip(label: str, series: Sequence[Series], index: int) -> str:
    figures = ", ".join(layer.figure(layer.values[index]) for layer in series)
    return f"<title>{escape(label)}: {escape(figures)}</title>"


def column_chart(
    chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    """Stacked columns, one per label (a time line): the y axis counts, the x axis shows a few labels."""
    width, height = 720, 260
    left, right, top, bottom = 52, 12, 34, 34
    plot_width, plot_height = width - left - right, height - top - bottom
    totals = [sum(layer.values[i] for layer in series) for i in range(len(labels))]
    axis_top, step = _scale_top(max(totals, default=0))
    parts = _open(width, height, chart_id, title, description)
    parts += _legend(series, left, 16)
    for tick in range(0, axis_top + 1, step):
        y = top + plot_height * (1 - tick / axis_top)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid" stroke="#ddd"/>')
        tick_label = format_number(tick)  # as the page's language writes numbers
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT} class="label">{tick_label}</text>')
    slot = plot_width / max(len(labels), 1)
    bar = slot * 0.8 if slot >= 4 else slot
    every = math.ceil(len(labels) / 6) or 1
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        if totals[i]:
            parts.append(f"<g>{_tooltip(label, series, i)}")
            base = top + plot_height
            for index, layer in enumerate(series):
                h = plot_height * layer.values[i] / axis_top
                if h:
                    base -= h
                    parts.append(
                        f'<rect x="{x:.2f}" y="{base:.2f}" width="{bar:.2f}" height="{h:.2f}" {_fill(index)}/>'
                    )
            parts.append("</g>")
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" {FONT} class="label">'
                f"{escape(label)}</text>"
            )
    if not any(totals):
        parts.append(
            f'<text x="{left + plot_width / 2}" y="{top + plot_height / 2}" text-anchor="middle" {FONT} '
            f'class="label">{escape(_("No actions yet."))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Stacked horizontal bars, one row per label (members by name), each with its total at the end."""
    width, row, label_width, right, top = 720, 30, 190, 70, 34
    height = top + row * max(len(labels), 1) + 8
    plot_width = width - label_width - right
    totals = [sum(layer.values[i] for layer in series) for i in range(len(labels))]
    largest = max(totals, default=0) or 1
    parts = _open(width, height, chart_id, title, description)
    parts += _legend(series, label_width, 16)
    for i, label in enumerate(labels):
        y = top + i * row
        shown = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f"<g>{_tooltip(label, series, i)}")
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 18}" text-anchor="end" {FONT} class="label">{escape(shown)}</text>'
        )
        x = float(label_width)
        for index, layer in enumerate(series):
            w = plot_width * layer.values[i] / largest
            if w:
                parts.append(f'<rect x="{x:.2f}" y="{y + 5}" width="{w:.2f}" height="{row - 10}" {_fill(index)}/>')
                x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 18}" {FONT} class="label">{format_number(totals[i])}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))

"""Server-rendered SVG charts (no JavaScript): columns over time and horizontal bars of named counts.

Shapes take ``currentColor`` so the stylesheet's text colour (light or dark) draws them; every bar carries a
``<title>`` (its label and value, shown on hover and read by screen readers) and the chart a ``role="img"`` with
a summary. Labels are escaped here: the result is safe markup for a template.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 640
BAR_HEIGHT: Final = 22
LABEL_WIDTH: Final = 200


def columns(points: Sequence[tuple[str, str, int]], *, title: str, height: int = 160) -> Markup:
    """One column per point ``(label, tick, count)`` (a day or an hour), scaled to the largest; the ``label`` in
    each column's title, every few ``tick`` (a short label) centred under the axis."""
    top = max((count for _, _, count in points), default=0) or 1
    plot = height - 30
    pad = 24  # room for the first and last ticks, centred on their columns
    step = (WIDTH - 2 * pad) / max(len(points), 1)
    every = max(1, -(-len(points) // 8))
    parts = [
        f'<svg class="chart columns" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">',
        f'<line x1="{pad}" y1="{plot}" x2="{WIDTH - pad}" y2="{plot}" stroke="currentColor" stroke-width="1"/>',
        f'<text x="{pad}" y="12" font-size="11" fill="currentColor">max {top}</text>',
    ]
    for i, (label, tick, count) in enumerate(points):
        bar = round(plot * count / top, 1)
        x = pad + i * step
        parts.append(
            f'<rect class="bar" x="{round(x + step * 0.15, 1)}" y="{round(plot - bar, 1)}" '
            f'width="{round(step * 0.7, 1)}" height="{bar}" fill="currentColor">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if i % every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{round(x + step / 2, 1)}" y="{height - 8}" font-size="10" text-anchor="middle" '
                f'fill="currentColor">{escape(tick)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(items: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """One horizontal bar per named count, largest first as given, the value at its end."""
    top = max((count for _, count in items), default=0) or 1
    height = BAR_HEIGHT * max(len(items), 1) + 4
    room = WIDTH - LABEL_WIDTH - 50
    parts = [
        f'<svg class="chart bars" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
    ]
    for i, (label, count) in enumerate(items):
        y = i * BAR_HEIGHT + 2
        width = max(1, round(room * count / top, 1))
        name = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="currentColor">{escape(name)}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{BAR_HEIGHT - 8}" '
            f'fill="currentColor"><title>{escape(label)}: {count}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 15}" font-size="12" fill="currentColor">{count}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))

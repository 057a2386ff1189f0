"""Bar charts as inline SVG, drawn on the server: the account page needs no JavaScript.

Integer arithmetic only (a value may be money units): a bar's height is
``value * height // top``. A chart is an image for sighted readers
(``role="img"``, named by its title); the page puts the same numbers in a
table beside it, for screen readers and for copying.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 400
HEIGHT: Final = 190
LEFT: Final = 50  # room for the value axis
RIGHT: Final = 6
TOP: Final = 10
BOTTOM: Final = 22  # room for the month labels
GRIDLINES: Final = 4
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # under the bar: "Mar"
    value: int  # in the chart's unit (money units for money); never negative
    text: str  # the value as people read it: "$12.00", "340"


def month_short(yyyymm: str) -> str:
    """``202603`` -> ``Mar``."""
    return MONTHS[int(yyyymm[4:]) - 1]


def nice_step(raw: int) -> int:
    """The least of 1, 2, 5 times a power of ten that is at least ``raw`` (>= 1)."""
    magnitude: int = 10 ** (len(str(max(raw, 1))) - 1)
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def axis_top(largest: int, least_step: int) -> int:
    """The top of the value axis: ``GRIDLINES`` nice steps, at least ``largest``."""
    step = nice_step(max(-(-largest // GRIDLINES), least_step))
    return step * GRIDLINES


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    tick: Callable[[int], str],
    *,
    least_step: int = 1,
) -> str:
    """An SVG bar chart; ``tick`` labels a value of the axis, ``least_step`` is the
    smallest step between gridlines (e.g. one whole currency unit for money)."""
    top = axis_top(max((b.value for b in bars), default=0), least_step)
    plot_height = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        *_gridlines(top, plot_height, tick),
        *_bars(bars, top, plot_height),
    ]
    if not any(b.value for b in bars):
        parts.append(
            f'<text x="{(LEFT + WIDTH) // 2}" y="{TOP + plot_height // 2}" '
            'text-anchor="middle" class="empty">Nothing yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _gridlines(top: int, plot_height: int, tick: Callable[[int], str]) -> list[str]:
    lines = []
    for i in range(GRIDLINES + 1):
        y = TOP + plot_height - plot_height * i // GRIDLINES
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" '
            f'class="{"axis" if i == 0 else "grid"}"/>'
            f'<text x="{LEFT - 5}" y="{y + 4}" text-anchor="end">'
            f"{escape(tick(top * i // GRIDLINES))}</text>"
        )
    return lines


def _bars(bars: Sequence[Bar], top: int, plot_height: int) -> list[str]:
    if not bars:
        return []
    slot = (WIDTH - LEFT - RIGHT) // len(bars)
    width = max(slot * 2 // 3, 1)
    base = TOP + plot_height
    drawn = []
    for i, bar in enumerate(bars):
        x = LEFT + i * slot + (slot - width) // 2
        height = bar.value * plot_height // top
        drawn.append(
            f'<rect x="{x}" y="{base - height}" width="{width}" height="{height}">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
            f'<text x="{x + width // 2}" y="{HEIGHT - 6}" text-anchor="middle">'
            f"{escape(bar.label)}</text>"
        )
    return drawn

"""Server-drawn SVG charts shared by usage analytics and staff reports.

No chart JavaScript: a chart is a small accessible SVG (``role="img"`` with a sentence saying
what it shows). The plot is never mirrored: it fixes its own direction to ltr so ``start`` and
``end`` anchors keep labels inside the frame on an Arabic page; only the labels are localized.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 14, 30  # room for the value and category labels
BASE, END = HEIGHT - BOTTOM, WIDTH - RIGHT


def text(x: float, y: float, anchor: str, content: str, css: str = "chart__label") -> str:
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" class="{css}">'
        f"{escape(content)}</text>"
    )


def frame(
    title: str, described: str, high_label: str, low_label: str, first: str, last: str
) -> list[str]:
    """The opening of a chart: its title, description, axes and four corner labels."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" direction="ltr" aria-label="{escape(described)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP}" x2="{END}" y2="{TOP}" class="chart__grid" '
        'stroke="currentColor" stroke-dasharray="4 4" stroke-width="0.5"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BASE}" class="chart__axis" '
        'stroke="currentColor" stroke-width="1"/>',
        f'<line x1="{LEFT}" y1="{BASE}" x2="{END}" y2="{BASE}" class="chart__axis" '
        'stroke="currentColor" stroke-width="1"/>',
        text(LEFT - 6, TOP + 4, "end", high_label),
        text(LEFT - 6, BASE, "end", low_label),
        text(LEFT, HEIGHT - 8, "start", first),
        text(END, HEIGHT - 8, "end", last),
    ]


def empty_note(message: str) -> str:
    return text((LEFT + END) / 2, (TOP + BASE) / 2, "middle", message, "chart__empty")


def finish(parts: list[str]) -> Markup:
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and attribute is escaped on the way in


def bar_chart(
    title: str,
    described: str,
    labels: Sequence[str],
    values: Sequence[int | float],
    fmt: Callable[[int | float], str],
    empty: str,
) -> Markup:
    """One bar per label; negative values (a month of refunds) hang below the zero line."""
    high = max([0, *values])
    low = min([0, *values])
    span = (high - low) or 1
    height = BASE - TOP

    def y(value: float) -> float:
        return TOP + height * (high - value) / span

    parts = frame(
        title,
        described,
        fmt(high),
        fmt(low),
        labels[0] if labels else "",
        labels[-1] if labels else "",
    )
    slot = (END - LEFT) / max(len(values), 1)
    zero = y(0)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        top, bottom = sorted((y(value), zero))
        parts.append(
            f'<rect x="{LEFT + index * slot + slot * 0.15:.1f}" y="{top:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{max(bottom - top, 0.5):.1f}" class="chart__bar" '
            f'fill="currentColor"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
        )
    if not values:
        parts.append(empty_note(empty))
    return finish(parts)

"""Small inline SVG charts: drawn here, so the report needs no script and no network."""

from __future__ import annotations

from html import escape

# Okabe–Ito: told apart by colour-blind readers too.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
WIDTH, HEIGHT = 560, 230
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 58


def line_chart(chart_id: str, title: str, labels: list[str], series: dict[str, list[float | None]], unit: str) -> str:
    """One line per series over the runs in ``labels``; a missing value breaks the line."""
    top = _nice_max(v for values in series.values() for v in values if v is not None)
    parts = _frame(chart_id, title, labels, top, unit)
    for (name, values), colour in zip(series.items(), PALETTE * 4, strict=False):
        points = [(_x(i, len(labels)), _y(v, top)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline class="series" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (x, y), (i, v) in zip(points, [(i, v) for i, v in enumerate(values) if v is not None], strict=True):
            parts.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(name)} · {escape(labels[i])}: {_fmt(v)} {escape(unit)}</title></circle>"
            )
    parts.append(_legend(list(series)))
    return _svg(chart_id, title, parts)


def bar_chart(
    chart_id: str, title: str, labels: list[str], series: dict[str, list[float]], unit: str, colours=PALETTE
) -> str:
    """Stacked bars, one per run in ``labels``."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_max(totals)
    parts = _frame(chart_id, title, labels, top, unit)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    width = max(4.0, min(36.0, slot * 0.6))
    for i, label in enumerate(labels):
        base = 0.0
        for (name, values), colour in zip(series.items(), colours, strict=False):
            value = values[i]
            if value:
                y0, y1 = _y(base, top), _y(base + value, top)
                parts.append(
                    f'<rect class="bar" x="{_x(i, len(labels)) - width / 2:.1f}" y="{y1:.1f}" width="{width:.1f}" '
                    f'height="{max(y0 - y1, 1):.1f}" fill="{colour}"><title>{escape(name)} · {escape(label)}: '
                    f"{_fmt(value)} {escape(unit)}</title></rect>"
                )
            base += value
    parts.append(_legend(list(series), colours))
    return _svg(chart_id, title, parts)


def _svg(chart_id: str, title: str, parts: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(chart_id)}" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )


def _frame(chart_id: str, title: str, labels: list[str], top: float, unit: str) -> list[str]:
    parts = [f"<title>{escape(title)}</title>"]
    for tick in range(5):
        value = top * tick / 4
        y = _y(value, top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_fmt(value)}</text>')
    parts.append(
        f'<text x="12" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" class="unit" '
        f'transform="rotate(-90 12 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})" text-anchor="middle">{escape(unit)}</text>'
    )
    step = max(1, len(labels) // 6)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{_x(i, len(labels)):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'class="tick">{escape(label)}</text>'
            )
    return parts


def _legend(names: list[str], colours=PALETTE) -> str:
    items, x = [], LEFT
    for name, colour in zip(names, colours * 4, strict=False):
        items.append(
            f'<rect x="{x}" y="{HEIGHT - 20}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 11}" class="legend">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(items)


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + span * (index + 0.5) / max(count, 1)


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _nice_max(values) -> float:
    """A round axis top at or above every value whose quarters are round too (the grid has
    four steps): 4 when there is little or nothing to show."""
    high = max(values, default=0)
    if high <= 4:
        return 4
    magnitude = 10 ** (len(str(int(high))) - 1)
    for step in (1, 2, 4, 6, 8, 10):
        if high <= step * magnitude:
            return step * magnitude
    return high


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"

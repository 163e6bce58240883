"""Server-side SVG charts: lines over time and a cost-vs-violations scatter with its frontier.
Plain strings, every label escaped; no script, no external asset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
W, H, PAD = 640, 220, 40


@dataclass(frozen=True)
class Line:
    name: str
    points: list[tuple[float, float]]
    dashed: bool = False


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float]:
    span = hi - lo or 1.0
    return (b - a) / span, a - lo * (b - a) / span


def _fmt_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M")


def line_chart(title: str, lines: list[Line], y_label: str, threshold: float | None = None
               ) -> str:
    pts = [p for line in lines for p in line.points]
    head = (f'<svg viewBox="0 0 {W} {H}" role="img" class="chart" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>')
    if not pts:
        return head + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no data</text></svg>'
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    y_hi = max(max(ys), threshold or 0.0) * 1.05 or 1.0
    sx, ox = _scale(min(xs), max(xs), PAD, W - 10)
    sy, oy = _scale(0.0, y_hi, H - 25, 10)
    parts = [head, f'<text x="4" y="12" class="axis">{escape(y_label)} (max {y_hi:.3g})</text>',
             f'<text x="{PAD}" y="{H - 5}" class="axis">{_fmt_time(min(xs))}</text>',
             f'<text x="{W - 10}" y="{H - 5}" class="axis" text-anchor="end">'
             f'{_fmt_time(max(xs))}</text>',
             f'<line x1="{PAD}" y1="{H - 25}" x2="{W - 10}" y2="{H - 25}" class="grid"/>']
    if threshold is not None:
        y = sy * threshold + oy
        parts.append(f'<line x1="{PAD}" y1="{y:.1f}" x2="{W - 10}" y2="{y:.1f}" '
                     f'class="threshold"/>')
    for i, line in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx * x + ox:.1f},{sy * y + oy:.1f}" for x, y in line.points)
        dash = ' stroke-dasharray="4 3"' if line.dashed else ""
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} '
                     f'points="{path}"><title>{escape(line.name)}</title></polyline>')
        x = PAD + 6 + 110 * i  # a swatch of the line (the legend's text is styled grey)
        parts.append(f'<line x1="{x}" y1="20" x2="{x + 14}" y2="20" stroke="{color}" '
                     f'stroke-width="2"{dash}/><text x="{x + 18}" y="24" class="legend">'
                     f'{escape(line.name)}</text>')
    return "".join(parts) + "</svg>"


def frontier(points: list[tuple[str, float, float]]) -> list[str]:
    """Names of the points no other point beats on both cost and violations (lower is better)."""
    out = []
    for name, c, v in points:
        if not any((c2 <= c and v2 <= v) and (c2 < c or v2 < v) for _, c2, v2 in points):
            out.append(name)
    return out


def scatter(title: str, points: list[tuple[str, float, float]], x_label: str, y_label: str
            ) -> str:
    head = (f'<svg viewBox="0 0 {W} {H + 40}" role="img" class="chart" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>')
    if not points:
        return head + "</svg>"
    best = set(frontier(points))
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    sx, ox = _scale(min(xs) * 0.95, max(xs) * 1.05 or 1.0, PAD, W - 60)
    sy, oy = _scale(0.0, max(ys) * 1.1 or 1.0, H, 15)
    parts = [head, f'<text x="4" y="12" class="axis">{escape(y_label)}</text>',
             f'<text x="{W - 10}" y="{H + 35}" class="axis" text-anchor="end">'
             f'{escape(x_label)}</text>']
    front = sorted((p for p in points if p[0] in best), key=lambda p: p[1])
    if len(front) > 1:
        path = " ".join(f"{sx * c + ox:.1f},{sy * v + oy:.1f}" for _, c, v in front)
        parts.append(f'<polyline fill="none" class="frontier" points="{path}"/>')
    for name, c, v in points:
        x, y = sx * c + ox, sy * v + oy
        cls = "point best" if name in best else "point"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" class="{cls}">'
                     f'<title>{escape(name)}: cost {c:.2f}, {v:.0f} min</title></circle>'
                     f'<text x="{x + 7:.1f}" y="{y + 4:.1f}" class="label">{escape(name)}</text>')
    return "".join(parts) + "</svg>"

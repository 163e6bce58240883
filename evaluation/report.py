"""A self-contained HTML report (inline SVG, no scripts, no network) of a policy comparison."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import numpy as np

from envs.outcome import Summary
from envs.scenario import Scenario
from evaluation.episode import Episode
from evaluation.frontier import FRONTIER_NAMES, frontier

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
WIDTH, HEIGHT, PAD = 960, 220, 48
MAX_POINTS = 1500


def _downsample(y: np.ndarray) -> np.ndarray:
    """At most MAX_POINTS points, each the maximum of its bucket of k ticks (peaks stay
    visible); the last bucket may be shorter, so the time axis keeps its scale."""
    n = len(y)
    if n <= MAX_POINTS:
        return y
    k = int(np.ceil(n / MAX_POINTS))
    buckets = -(-n // k)
    padded = np.concatenate([y, np.full(buckets * k - n, y[-1])])
    result: np.ndarray = padded.reshape(buckets, k).max(axis=1)
    return result


def _chart(
    title: str,
    unit: str,
    series: Sequence[tuple[str, np.ndarray]],
    hline: float | None = None,
    bands: Sequence[tuple[float, float]] = (),
) -> str:
    ys = [_downsample(np.asarray(v, dtype=float)) for _, v in series]
    top = max(float(np.nanmax(y)) for y in ys) if ys else 1.0
    top = max(top, hline or 0.0) * 1.05 or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{PAD}" y="18" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="4" y="{PAD - 6}" font-size="11">{html.escape(unit)}</text>',
    ]
    for lo, hi in bands:
        parts.append(
            f'<rect x="{PAD + lo * inner_w:.1f}" y="{PAD}" width="{(hi - lo) * inner_w:.1f}"'
            f' height="{inner_h}" fill="#fde9c9"/>'
        )
    parts.append(
        f'<line x1="{PAD}" y1="{PAD + inner_h}" x2="{PAD + inner_w}" y2="{PAD + inner_h}"'
        ' stroke="#999"/>'
    )
    for frac in (0.0, 0.5, 1.0):
        tick_y = PAD + inner_h * (1 - frac)
        parts.append(f'<text x="4" y="{tick_y + 4:.1f}" font-size="10">{top * frac:,.0f}</text>')
    if hline is not None:
        line_y = PAD + inner_h * (1 - hline / top)
        parts.append(
            f'<line x1="{PAD}" y1="{line_y:.1f}" x2="{PAD + inner_w}" y2="{line_y:.1f}" '
            'stroke="#000" stroke-dasharray="4 3"/>'
        )
    for i, ((name, _), y) in enumerate(zip(series, ys, strict=True)):
        xs = PAD + np.linspace(0, inner_w, len(y))
        yy = PAD + inner_h * (1 - np.minimum(y, top) / top)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, yy, strict=True))
        color = COLORS[i % len(COLORS)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{pts}"/>')
        parts.append(
            f'<text x="{PAD + inner_w - 150}" y="{PAD + 12 * i}" font-size="11" '
            f'fill="{color}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bars(title: str, values: Sequence[tuple[str, float]]) -> str:
    top = max((v for _, v in values), default=1.0) or 1.0
    rows = [
        f'<svg width="{WIDTH}" height="{40 + 22 * len(values)}" role="img" '
        f'aria-label="{html.escape(title)}"><text x="{PAD}" y="18" font-weight="bold">'
        f"{html.escape(title)}</text>"
    ]
    for i, (name, v) in enumerate(values):
        y = 32 + 22 * i
        w = (WIDTH - 260) * v / top
        rows.append(
            f'<text x="4" y="{y + 13}" font-size="12">{html.escape(name)}</text>'
            f'<rect x="130" y="{y}" width="{w:.1f}" height="16" '
            f'fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{136 + w:.1f}" y="{y + 13}" font-size="12">{v:,.1f}</text>'
        )
    rows.append("</svg>")
    return "".join(rows)


def _frontier_chart(episodes: Sequence[Episode]) -> str:
    """Violation minutes against replica-hours: the HPA/KEDA settings (grey; the Pareto ones
    joined) and every other policy (coloured, labelled)."""
    summaries = {ep.policy: {"slo_violation_minutes": ep.summary.slo_violation_minutes,
                             "replica_hours": ep.summary.replica_hours} for ep in episodes}
    points = frontier(summaries)
    if not points:
        return ""
    others = [ep for ep in episodes if ep.policy not in FRONTIER_NAMES]
    xs = [p.replica_hours for p in points] + [ep.summary.replica_hours for ep in others]
    ys = [p.slo_violation_minutes for p in points] + [
        ep.summary.slo_violation_minutes for ep in others]
    x_lo, x_hi = min(xs) * 0.95, max(xs) * 1.05
    y_hi = max(max(ys) * 1.05, 1.0)
    w, h = WIDTH - 2 * PAD, 2 * HEIGHT - 2 * PAD

    def at(x: float, y: float) -> tuple[float, float]:
        return PAD + w * (x - x_lo) / (x_hi - x_lo), PAD + h * (1 - y / y_hi)

    title = "Cost vs SLO violations: HPA targets and KEDA thresholds (grey), other policies"
    parts = [f'<svg width="{WIDTH}" height="{2 * HEIGHT}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="{PAD}" y="18" font-weight="bold">'
             f"{html.escape(title)}</text>",
             f'<text x="{PAD + w - 120}" y="{2 * HEIGHT - 8}" font-size="11">replica-hours</text>',
             f'<text x="4" y="{PAD - 6}" font-size="11">violation min</text>']
    for frac in (0.0, 0.5, 1.0):
        parts.append(f'<text x="4" y="{PAD + h * (1 - frac) + 4:.1f}" font-size="10">'
                     f"{y_hi * frac:,.0f}</text>")
        x = PAD + w * frac
        parts.append(f'<text x="{x - 16:.1f}" y="{PAD + h + 14}" font-size="10">'
                     f"{x_lo + (x_hi - x_lo) * frac:,.0f}</text>")
    pareto = sorted((p for p in points if p.pareto), key=lambda p: p.replica_hours)
    line = " ".join("{:.1f},{:.1f}".format(*at(p.replica_hours, p.slo_violation_minutes))
                    for p in pareto)
    parts.append(f'<polyline fill="none" stroke="#999" points="{line}"/>')
    for p in points:
        x, y = at(p.replica_hours, p.slo_violation_minutes)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#999"/>'
                     f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" font-size="10" fill="#666">'
                     f"{html.escape(p.setting)}</text>")
    for i, ep in enumerate(others):
        x, y = at(ep.summary.replica_hours, ep.summary.slo_violation_minutes)
        color = COLORS[i % len(COLORS)]
        parts.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" '
                     f'fill="{color}"/><text x="{x + 6:.1f}" y="{y + 12:.1f}" font-size="11" '
                     f'fill="{color}">{html.escape(ep.policy)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(episodes: Sequence[Episode]) -> str:
    cols = tuple(f.name for f in fields(Summary))
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)
    body = []
    for ep in episodes:
        cells = "".join(
            f"<td>{getattr(ep.summary, c):,.3f}</td>"
            if isinstance(getattr(ep.summary, c), float)
            else f"<td>{getattr(ep.summary, c):,}</td>"
            for c in cols
        )
        body.append(f"<tr><th>{html.escape(ep.policy)}</th>{cells}</tr>")
    return f"<table><tr><th>policy</th>{head}</tr>{''.join(body)}</table>"


def write_report(
    scenario: Scenario, run_rps: np.ndarray, episodes: Sequence[Episode], path: Path
) -> None:
    total = scenario.ticks * scenario.tick_seconds
    bands = []
    for ev in scenario.events:
        lo = (ev.start - scenario.start).total_seconds() / total
        hi = (ev.end - scenario.start).total_seconds() / total
        if hi > 0 and lo < 1:
            bands.append((max(lo, 0.0), min(hi, 1.0)))
    end = scenario.start + timedelta(seconds=total)
    table, frontier_chart = _table(episodes), _frontier_chart(episodes)
    episodes = [ep for ep in episodes  # the timelines: the tuned settings only in the scatter
                if ep.policy not in FRONTIER_NAMES or ep.policy in ("hpa", "keda")]
    charts = [frontier_chart,
        _chart("Entry demand", "requests/s", [("demand", run_rps)], bands=bands),
        _chart(
            "Replicas (all services)",
            "replicas",
            [(ep.policy, ep.trajectory.desired.sum(axis=1)) for ep in episodes],
            bands=bands,
        ),
        _chart(
            "End-to-end p95 latency (dashed: SLO)",
            "ms",
            [
                (ep.policy, np.minimum(ep.metrics.e2e_p95_ms, 4 * scenario.slo.p95_latency_ms))
                for ep in episodes
            ],
            hline=scenario.slo.p95_latency_ms,
            bands=bands,
        ),
        _bars(
            "SLO violation minutes",
            [(ep.policy, ep.summary.slo_violation_minutes) for ep in episodes],
        ),
        _bars("Cost", [(ep.policy, ep.summary.cost) for ep in episodes]),
    ]
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Edgewise bench: {html.escape(scenario.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
svg{{display:block;margin:12px 0}}</style></head><body>
<h1>Edgewise bench: {html.escape(scenario.name)}</h1>
<p>{scenario.start.isoformat()} to {end.isoformat()}, tick {scenario.tick_seconds} s,
SLO p95 &le; {scenario.slo.p95_latency_ms:g} ms and errors &le; {scenario.slo.max_error_ratio:g}.
Shaded: event windows. Series are reduced to {MAX_POINTS} points (bucket maxima).</p>
{table}
{"".join(charts)}
</body></html>
"""
    path.write_text(doc)

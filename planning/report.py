"""A plan's files: plan.csv, sweep.csv, plan.json, plan.html (inline SVG, reusing report.py's
chart helpers) and the YAML of `planning.manifests`."""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import numpy as np

from envs.graph import ServiceGraph
from evaluation.report import _bars, _chart
from planning.manifests import dump_all, hpa_patches, scaled_objects
from planning.plan import Plan, SweepPoint

TOP_SERVICES = 6


def write_plan_csv(plan: Plan, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hour_start", "p50_rps", "p90_rps", "burst", "planned_rps", *plan.services])
        for h in range(plan.window.hours):
            stamp = (plan.window.start + timedelta(hours=h)).isoformat()
            w.writerow([stamp, f"{plan.forecast.p50[h]:.2f}", f"{plan.forecast.p90[h]:.2f}",
                        f"{plan.burst[h]:.3f}", f"{plan.planned_rps[h]:.2f}",
                        *(int(r) for r in plan.replicas[h])])


def write_sweep_csv(points: Sequence[SweepPoint], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["uplift", "shift_hours", "violation_minutes", "event_violation_minutes",
                    "cost", "replica_hours", "dropped_requests"])
        for p in points:
            w.writerow([p.uplift, p.shift_hours, p.violation_minutes, p.event_violation_minutes,
                        f"{p.cost:.4f}", f"{p.replica_hours:.2f}", p.dropped_requests])


def plan_json(plan: Plan, points: Sequence[SweepPoint], entry: str | None = None
              ) -> dict[str, object]:
    ev = plan.window.event
    s = plan.settings
    return {
        "scenario": plan.scenario,
        "entry": entry or plan.services[0],
        "event": {"name": ev.name, "start": ev.start.isoformat(), "end": ev.end.isoformat(),
                  "multiplier": ev.multiplier},
        "window": {"start": plan.window.start.isoformat(), "hours": plan.window.hours},
        "forecast_method": plan.forecast.method.value,
        "headroom": s.headroom, "burst_quantile": s.burst_quantile,
        "reactive": s.reactive.value, "seed": s.seed,
        "lead_minutes": dict(zip(plan.services, plan.lead_minutes, strict=True)),
        "peak_replicas": dict(zip(plan.services, (int(x) for x in plan.replicas.max(axis=0)),
                                  strict=True)),
        "sweep": [asdict(p) for p in points],
    }


def _sweep_charts(plan: Plan, points: Sequence[SweepPoint]) -> list[str]:
    shifts = plan.settings.shifts_hours
    uplifts = plan.settings.uplifts
    label = ", ".join(f"{u:g}x" for u in uplifts)

    def series(attr: str) -> list[tuple[str, np.ndarray]]:
        return [(f"event {h:+g} h", np.array([getattr(p, attr) for p in points
                                             if p.shift_hours == h])) for h in shifts]

    return [_chart(f"What-if: SLO violation minutes by event uplift ({label})", "minutes",
                   series("violation_minutes")),
            _chart(f"What-if: cost by event uplift ({label})", "cost", series("cost"))]


def _sweep_table(points: Sequence[SweepPoint]) -> str:
    rows = "".join(
        f"<tr><td>{p.uplift:g}x</td><td>{p.shift_hours:+g} h</td>"
        f"<td>{p.violation_minutes:,.0f}</td><td>{p.event_violation_minutes:,.0f}</td>"
        f"<td>{p.cost:,.2f}</td><td>{p.dropped_requests:,}</td></tr>" for p in points)
    return ("<table><tr><th>uplift</th><th>shift</th><th>violation min</th>"
            f"<th>event violation min</th><th>cost</th><th>dropped</th></tr>{rows}</table>")


def write_plan_html(plan: Plan, points: Sequence[SweepPoint], path: Path) -> None:
    ev, s = plan.window.event, plan.settings
    top = np.argsort(-plan.replicas.max(axis=0))[:TOP_SERVICES]
    charts = [
        _chart("Forecast entry demand per hour (P50, P90) and planned demand", "requests/s",
               [("P50", plan.forecast.p50), ("P90", plan.forecast.p90),
                ("planned", plan.planned_rps)]),
        _chart("Minimum replicas per hour (busiest services)", "replicas",
               [(plan.services[i], plan.replicas[:, i]) for i in top]),
        _bars("Peak minimum replicas", [(plan.services[i], float(plan.replicas[:, i].max()))
                                        for i in top]),
        *_sweep_charts(plan, points),
    ]
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Edgewise plan: {html.escape(ev.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
svg{{display:block;margin:12px 0}}</style></head><body>
<h1>Edgewise plan: {html.escape(ev.name)} ({html.escape(plan.scenario)})</h1>
<p>Window {plan.window.start.isoformat()} + {plan.window.hours} h; event at
{ev.start.isoformat()}, {ev.multiplier:g}x the daily peak. Forecast: {plan.forecast.method.value};
planned demand = {s.headroom:g} x (the largest P90 of the hour and its neighbours x the hour's
burst factor (the {s.burst_quantile:g} quantile of its largest tick over the smooth demand, from
history), plus the event's within-hour peak). Replicas: the twin's SLO sizing; each hour's
replicas start its start-up lead plus {1} minute early. What-ifs: the planned schedule
{"alone" if s.reactive.value == "none" else "with the CPU HPA above it"}, one twin run each
(seed {s.seed}).</p>
{''.join(charts)}
{_sweep_table(points)}
</body></html>
"""
    path.write_text(doc)


def write_plan(plan: Plan, points: Sequence[SweepPoint], graph: ServiceGraph, out: Path, *,
               namespace: str, timezone: str) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    write_plan_csv(plan, out / "plan.csv")
    write_sweep_csv(points, out / "sweep.csv")
    (out / "plan.json").write_text(
        json.dumps(plan_json(plan, points, graph.entry), indent=2, allow_nan=False) + "\n")
    write_plan_html(plan, points, out / "plan.html")
    (out / "keda-scaledobjects.yaml").write_text(
        dump_all(scaled_objects(plan, graph, namespace=namespace, timezone=timezone)))
    (out / "hpa-patches.yaml").write_text(dump_all(hpa_patches(plan, graph, namespace=namespace)))
    return ["plan.csv", "sweep.csv", "plan.json", "plan.html", "keda-scaledobjects.yaml",
            "hpa-patches.yaml"]

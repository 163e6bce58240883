"""The Q4, Placement and Slices pages (server-rendered, SVG drawn here), and the operator's
plan acknowledgement form (the same checks and audit as the API)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from edgewise.api import charts, eventplan
from edgewise.api.artifacts import TIMELINE
from edgewise.api.auth import Role
from edgewise.api.context import Context, context
from edgewise.api.errors import ApiError
from edgewise.api.pages import Who, render, same_origin, viewer_of
from edgewise.api.schemas import PlanAck, PlanComparison
from edgewise.api.views import acknowledge, comparison
from evaluation.frontier import FRONTIER_NAMES
from placement.mapview import map_svg

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]


def _middle(c: PlanComparison, attr: str) -> list[tuple[float, float]]:
    out = []
    for h in c.hours:
        v = getattr(h, attr)
        if v is not None:
            out.append((eventplan.epoch(h.start) + eventplan.HOUR_SECONDS / 2, float(v)))
    return out


def plan_chart(c: PlanComparison) -> str:
    lines = [charts.Line("P50", _middle(c, "p50_rps"), True),
             charts.Line("P90", _middle(c, "p90_rps"), True),
             charts.Line("planned", _middle(c, "planned_rps"), True),
             charts.Line("actual mean", _middle(c, "actual_mean_rps")),
             charts.Line("actual peak", _middle(c, "actual_peak_rps"))]
    return charts.line_chart(f"{c.plan.name}: planned vs actual entry demand", lines,
                             "requests/s")


def run_charts(ctx: Context) -> list[dict[str, Any]]:
    runs = []
    for run in ctx.store.runs():
        pol = run["results"].get("policies", {})
        pts = [(n, float(s["cost"]), float(s["slo_violation_minutes"])) for n, s in pol.items()]
        runs.append({**run, "svg": Markup(charts.scatter(
            f"{run['name']}: cost vs SLO violations", pts, "cost (USD)", "violation minutes")),
            "frontier": charts.frontier(pts), **_timeline_charts(run)})
    return runs


def _timeline_charts(run: dict[str, Any]) -> dict[str, Markup]:
    """Replicas and p95 over the run per policy (timeline.csv), as report.html draws them: the
    default HPA and KEDA, not every frontier setting; p95 capped at 4x the SLO."""
    timeline = run["results"].get(TIMELINE)
    if not timeline:
        return {}
    shown = {p: v for p, v in timeline.items() if p not in FRONTIER_NAMES or p in ("hpa", "keda")}
    slo = (run["results"].get("slo") or {}).get("p95_latency_ms")
    cap = 4 * float(slo) if slo else float("inf")

    def lines(key: str) -> list[charts.Line]:
        return [charts.Line(p, [(t, min(y, cap)) for t, y in zip(v["t"], v[key], strict=True)])
                for p, v in shown.items()]

    return {"replicas_svg": Markup(charts.line_chart(
                f"{run['name']}: replicas (all services)", lines("replicas"), "replicas")),
            "p95_svg": Markup(charts.line_chart(
                f"{run['name']}: end-to-end p95 (line: SLO)", lines("p95_ms"), "ms",
                threshold=float(slo) if slo else None))}


@router.get("/q4")
def q4_page(request: Request, ctx: Ctx, who: Who) -> Response:
    viewer = viewer_of(who)
    plans = []
    for p in ctx.store.plans():
        c = comparison(ctx, p["name"])
        scalers = next((r.scalers for r in ctx.readings.rows() if r.app == p["app"]), ())
        plans.append({"c": c, "svg": Markup(plan_chart(c)), "scalers": scalers})
    return render(request, "q4.html", viewer, plans=plans, runs=run_charts(ctx))


@router.post("/q4/plans/{plan}/acknowledge")
def acknowledge_form(request: Request, plan: str, ctx: Ctx, who: Who,
                     scaler: Annotated[str, Form(max_length=320)]) -> Response:
    same_origin(request)
    viewer = viewer_of(who)
    if viewer.role < Role.OPERATOR:
        raise ApiError(403, "acknowledging a plan needs the operator role", "authorization")
    namespace, _, name = scaler.partition("/")
    try:
        body = PlanAck(namespace=namespace, name=name)
    except ValueError:
        raise ApiError(422, "scaler must be namespace/name", "scaler") from None
    acknowledge(plan, body, ctx, viewer)
    return RedirectResponse("/q4", status_code=303)


@router.get("/placement")
def placement_page(request: Request, ctx: Ctx, who: Who) -> Response:
    viewer = viewer_of(who)
    shown = []
    for p in ctx.store.placements():
        doc = p["plan"]
        stores = [{"name": s["name"], "home": s["home_region"],
                   "cost": s["cost_usd_per_hour"],
                   "local": [a["service"] for a in s["assignments"] if a["site_kind"] == "edge"],
                   "cloud": [f"{a['service']} ({a['site']})" for a in s["assignments"]
                             if a["site_kind"] == "cloud"]} for s in doc["stores"]]
        shown.append({"name": p["name"], "doc": doc, "stores": stores,
                      "svg": Markup(map_svg(doc, p["locations"]))})
    return render(request, "placement.html", viewer, placements=shown)


@router.get("/slices")
def slices_page(request: Request, ctx: Ctx, who: Who) -> Response:
    viewer = viewer_of(who)
    peers, problems, ages = ctx.slices.read(ctx.readings.clock())
    return render(request, "slices.html", viewer, peers=peers, problems=problems, ages=ages)


@router.get("/runs")
def runs_page(request: Request, ctx: Ctx, who: Who) -> Response:
    return render(request, "runs.html", viewer_of(who), runs=run_charts(ctx))

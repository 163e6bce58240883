"""/api/v1 for the Q4, Placement and Slices views: event plans beside what happened (and an
operator's acknowledgement, written to the scaler and the audit log), placement plans, the
slices' peers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from controller.spec import APP_LABEL
from edgewise.api import eventplan
from edgewise.api.auth import Principal
from edgewise.api.context import OPERATOR, VIEWER, Context, context
from edgewise.api.errors import ApiError
from edgewise.api.fleet import ACK_AT, ACK_BY, ACK_PLAN
from edgewise.api.routes import ERRORS, name_label
from edgewise.api.schemas import (
    PlacementOut,
    PlanAck,
    PlanComparison,
    PlanHourOut,
    PlanSummary,
    SlicePeerOut,
    SlicesOut,
)
from edgewise.api.sources import SeriesKind

router = APIRouter(prefix="/api/v1", responses=ERRORS)
Ctx = Annotated[Context, Depends(context)]
ACTUAL_STEP_SECONDS = 60.0


def plan_summary(p: dict[str, Any]) -> PlanSummary:
    doc = p["plan"]
    return PlanSummary(name=p["name"], app=p["app"], event=doc["event"]["name"],
                       event_start=doc["event"]["start"], window_start=doc["window"]["start"],
                       hours=int(doc["window"]["hours"]), sha256=p["sha256"],
                       acknowledged_by=p["acknowledged_by"],
                       acknowledged_at=p["acknowledged_at"],
                       acknowledged_scaler=p["acknowledged_scaler"])


def _plan(ctx: Context, name: str) -> dict[str, Any]:
    found = ctx.store.plan(name_label(name, "plan"))
    if found is None:
        raise ApiError(404, f"unknown plan {name!r}", "plan")
    return found


def _actuals(ctx: Context, p: dict[str, Any], hours: list[eventplan.PlanHour]
             ) -> tuple[list[tuple[float, float]], dict[str, list[tuple[float, float]]]]:
    """The app's entry demand and ready replicas per service over the plan's window; none
    when the source has no such app."""
    app, entry = p["app"], p["plan"].get("entry")
    if app not in ctx.readings.apps() or ctx.readings.source is None:
        return [], {}
    t0, t1 = eventplan.window(hours)
    t1 = min(t1, ctx.readings.clock())
    if t1 <= t0:
        return [], {}
    step = max(ACTUAL_STEP_SECONDS, (t1 - t0) / 10_000)
    demand = ctx.readings.series(app, SeriesKind.DEMAND_RPS, t0, t1, step)
    ready = ctx.readings.series(app, SeriesKind.REPLICAS_READY, t0, t1, step)
    pick = next((s for s in demand if s.name in (entry, app)), demand[0] if demand else None)
    return (pick.points if pick else [],
            {(entry if s.name == app else s.name): s.points for s in ready})


def comparison(ctx: Context, name: str) -> PlanComparison:
    p = _plan(ctx, name)
    hours = eventplan.parse_hours(p["csv"])
    demand, ready = _actuals(ctx, p, hours)
    rows = eventplan.compare(hours, demand, ready)
    src = ctx.readings.source
    return PlanComparison(
        plan=plan_summary(p), source=src.name if src else "none",
        short_hours=sum(r.short for r in rows),
        hours=[PlanHourOut(start=eventplan.iso(r.plan.start_epoch), p50_rps=r.plan.p50_rps,
                           p90_rps=r.plan.p90_rps, planned_rps=r.plan.planned_rps,
                           replicas=r.plan.replicas, actual_mean_rps=r.actual.mean_rps,
                           actual_peak_rps=r.actual.peak_rps, ready_min=r.actual.ready_min,
                           short=r.short, short_services=list(r.short_services))
               for r in rows])


@router.get("/plans", response_model=list[PlanSummary], tags=["q4"], operation_id="list_plans")
def list_plans(ctx: Ctx, who: Principal = VIEWER) -> list[PlanSummary]:
    return [plan_summary(p) for p in ctx.store.plans()]


@router.get("/plans/{plan}", response_model=PlanComparison, tags=["q4"],
            operation_id="get_plan")
def get_plan(plan: str, ctx: Ctx, who: Principal = VIEWER) -> PlanComparison:
    return comparison(ctx, plan)


@router.post("/plans/{plan}/acknowledge", response_model=PlanSummary, tags=["q4"],
             operation_id="acknowledge_plan")
def acknowledge(plan: str, body: PlanAck, ctx: Ctx, who: Principal = OPERATOR) -> PlanSummary:
    """Annotates the scaler (edgewise.io/acknowledged-plan: name@sha256 prefix, -by, -at) and
    records who acknowledged the plan."""
    p = _plan(ctx, plan)
    fleet = ctx.readings.cluster()
    before = fleet.scaler(body.namespace, body.name)
    meta = before.get("metadata") or {}
    app = (meta.get("labels") or {}).get(APP_LABEL) or meta.get("name")
    if app != p["app"]:
        raise ApiError(422, f"scaler {body.namespace}/{body.name} is app {app!r}, the plan is "
                       f"for {p['app']!r}", "name")
    actor = f"{who.source}:{who.name}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    value = f"{p['name']}@{p['sha256'][:12]}"
    old = {k: (meta.get("annotations") or {}).get(k) for k in (ACK_PLAN, ACK_BY, ACK_AT)}
    after = fleet.patch(body.namespace, body.name, {"metadata": {"annotations": {
        ACK_PLAN: value, ACK_BY: actor[:253], ACK_AT: now}}})
    new = {k: ((after.get("metadata") or {}).get("annotations") or {}).get(k)
           for k in (ACK_PLAN, ACK_BY, ACK_AT)}
    row = ctx.store.acknowledge_plan(p["name"], actor, f"{body.namespace}/{body.name}")
    ctx.readings.invalidate()
    ctx.audit(who, "acknowledge-plan", f"predictivescalers/{body.namespace}/{body.name}",
              old, new)
    return plan_summary(row)


@router.get("/placements", response_model=list[PlacementOut], tags=["placement"],
            operation_id="list_placements")
def list_placements(ctx: Ctx, who: Principal = VIEWER) -> list[PlacementOut]:
    return [PlacementOut(name=p["name"], created_at=p["created_at"], plan=p["plan"])
            for p in ctx.store.placements()]


@router.get("/slices", response_model=SlicesOut, tags=["slices"], operation_id="list_slices")
def list_slices(ctx: Ctx, who: Principal = VIEWER) -> SlicesOut:
    peers, problems, ages = ctx.slices.read(ctx.readings.clock())
    return SlicesOut(peers=[SlicePeerOut(**r.__dict__) for r in peers], problems=problems,
                     file_age_seconds=ages)

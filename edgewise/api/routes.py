"""/api/v1: SLOs, the fleet overview, one app, its series, scalers (mode changes), feedback,
bench runs, the audit log."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from edgewise.api.artifacts import TIMELINE
from edgewise.api.auth import Principal
from edgewise.api.context import ADMIN, OPERATOR, VIEWER, Context, context
from edgewise.api.errors import ApiError
from edgewise.api.fleet import SortKey, scaler_view, select_rows
from edgewise.api.schemas import (
    AppOut,
    AuditOut,
    ErrorBody,
    FeedbackIn,
    FeedbackOut,
    Mode,
    ModeChange,
    Overview,
    PauseChange,
    RunOut,
    RunTimeline,
    ScalerOut,
    SeriesOut,
    SeriesSet,
    SloOut,
    WhoAmI,
    app_out,
    scaler_out,
    slo_out,
)
from edgewise.api.sources import SeriesKind
from edgewise.api.timerange import time_range

ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorBody} for c in (401, 403, 404, 422, 503)}
router = APIRouter(prefix="/api/v1", responses=ERRORS)
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
Ctx = Annotated[Context, Depends(context)]


def name_label(value: str, field: str) -> str:
    if not NAME.match(value):
        raise ApiError(422, f"expected a lowercase DNS label, got {value[:64]!r}", field)
    return value


@router.get("/whoami", response_model=WhoAmI, tags=["auth"], operation_id="get_whoami")
def whoami(who: Principal = VIEWER) -> WhoAmI:
    return WhoAmI(name=who.name, role=who.role.label, source=who.source)  # type: ignore[arg-type]


@router.get("/slos", response_model=list[SloOut], tags=["slo"], operation_id="list_slos")
def list_slos(ctx: Ctx, who: Principal = VIEWER) -> list[SloOut]:
    return [slo_out(s) for s in ctx.readings.statuses()]


@router.get("/overview", response_model=Overview, tags=["fleet"], operation_id="get_overview")
async def overview(ctx: Ctx, who: Principal = VIEWER,
                   q: Annotated[str | None, Query(max_length=63,
                                                  description="app name contains")] = None,
                   mode: Mode | None = None, sort: SortKey = SortKey.APP,
                   descending: bool = False) -> Response:
    """Built once per snapshot of the sources and filter; the same bytes until the next."""
    if q is not None and not re.fullmatch(r"[a-z0-9-]*", q):
        raise ApiError(422, "filter may hold only lowercase letters, digits and '-'", "q")
    readings = ctx.readings
    stamp, rows = await readings.current()
    key = ("overview", stamp, q, mode, sort, descending)
    body = readings.bodies.get(key)
    if body is None:
        picked = select_rows(rows, contains=q or None, mode=mode, sort=sort,
                             descending=descending)
        src = readings.source
        body = Overview(source=src.name if src else "none",
                        stale_since=readings.freshness.stale_since(),
                        apps=[app_out(r) for r in picked]).model_dump_json().encode()
        readings.remember(key, body)
    return Response(body, media_type="application/json")


@router.get("/apps/{app}", response_model=AppOut, tags=["fleet"], operation_id="get_app")
async def get_app(app: str, ctx: Ctx, who: Principal = VIEWER) -> Response:
    readings = ctx.readings
    stamp, rows = await readings.current()
    key = ("app", stamp, app)
    body = readings.bodies.get(key)
    if body is None:
        name = name_label(app, "app")
        row = next((r for r in rows if r.app == name), None)
        if row is None:
            raise ApiError(404, f"unknown app {name!r}", "app")
        body = app_out(row).model_dump_json().encode()
        readings.remember(key, body)
    return Response(body, media_type="application/json")


@router.get("/apps/{app}/series/{kind}", response_model=SeriesSet, tags=["fleet"],
            operation_id="get_app_series")
def get_series(app: str, kind: SeriesKind, ctx: Ctx, who: Principal = VIEWER,
               start: Annotated[str | None, Query(max_length=40)] = None,
               end: Annotated[str | None, Query(max_length=40)] = None,
               step: Annotated[float | None, Query(gt=0, le=86_400)] = None) -> SeriesSet:
    r = time_range(start, end, step, ctx.readings.clock())
    got = ctx.readings.series(name_label(app, "app"), kind, r.start, r.end, r.step_seconds)
    return SeriesSet(app=app, kind=kind.value, start=r.start, end=r.end,
                     step_seconds=r.step_seconds,
                     series=[SeriesOut(name=s.name, points=s.points) for s in got])


@router.get("/scalers", response_model=list[ScalerOut], tags=["scalers"],
            operation_id="list_scalers")
def list_scalers(ctx: Ctx, who: Principal = VIEWER) -> list[ScalerOut]:
    return [scaler_out(s) for s in ctx.readings.scalers()]


def _set_spec(ctx: Context, who: Principal, namespace: str, name: str, key: str,
              value: object, default: object, action: str) -> ScalerOut:
    """Merge-patch `spec.<key>` of a PredictiveScaler and audit it, before and after."""
    fleet = ctx.readings.cluster()
    ns, nm = name_label(namespace, "namespace"), name_label(name, "name")
    before = fleet.scaler(ns, nm).get("spec", {}).get(key, default)
    after = fleet.patch(ns, nm, {"spec": {key: value}})
    ctx.readings.invalidate()
    ctx.audit(who, action, f"predictivescalers/{ns}/{nm}", {key: before},
              {key: after.get("spec", {}).get(key, default)})
    return scaler_out(scaler_view(after))


@router.put("/scalers/{namespace}/{name}/mode", response_model=ScalerOut, tags=["scalers"],
            operation_id="set_scaler_mode")
def set_mode(namespace: str, name: str, body: ModeChange, ctx: Ctx,
             who: Principal = OPERATOR) -> ScalerOut:
    return _set_spec(ctx, who, namespace, name, "mode", body.mode, "Active", "set-mode")


@router.put("/scalers/{namespace}/{name}/paused", response_model=ScalerOut, tags=["scalers"],
            operation_id="set_scaler_paused")
def set_paused(namespace: str, name: str, body: PauseChange, ctx: Ctx,
               who: Principal = OPERATOR) -> ScalerOut:
    """Patches `spec.paused`: the controller holds replicas while it is true. Audited."""
    return _set_spec(ctx, who, namespace, name, "paused", body.paused, False,
                     "pause" if body.paused else "resume")


@router.get("/scalers/{namespace}/{name}/events", response_model=list[dict[str, Any]],
            tags=["scalers"], operation_id="scaler_events")
def scaler_events(namespace: str, name: str, ctx: Ctx,
                  who: Principal = VIEWER) -> list[dict[str, Any]]:
    fleet = ctx.readings.fleet
    if fleet is None:
        return []
    return fleet.events(name_label(namespace, "namespace"), name_label(name, "name"))


@router.post("/feedback", response_model=FeedbackOut, status_code=201, tags=["feedback"],
             operation_id="add_feedback")
def add_feedback(body: FeedbackIn, ctx: Ctx, who: Principal = OPERATOR) -> FeedbackOut:
    row = ctx.store.add_feedback(namespace=body.namespace, scaler=body.scaler,
                                 decision=body.decision, verdict=body.verdict, note=body.note,
                                 decision_json=json.dumps(body.decision_record, sort_keys=True),
                                 author=f"{who.source}:{who.name}")
    ctx.audit(who, "feedback", f"predictivescalers/{body.namespace}/{body.scaler}", None,
              {"decision": body.decision, "verdict": body.verdict})
    return FeedbackOut(**row)


@router.get("/feedback", response_model=list[FeedbackOut], tags=["feedback"],
            operation_id="list_feedback",
            responses={200: {"content": {"application/x-ndjson": {}}}})
def list_feedback(ctx: Ctx, who: Principal = VIEWER,
                  format: Annotated[str, Query(pattern="^(json|jsonl)$")] = "json") -> Any:
    rows = ctx.store.feedback()
    if format == "jsonl":
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        return PlainTextResponse(text, media_type="application/x-ndjson")
    return [FeedbackOut(**r) for r in rows]


@router.get("/runs", response_model=list[RunOut], tags=["bench"], operation_id="list_runs")
def list_runs(ctx: Ctx, who: Principal = VIEWER) -> list[RunOut]:
    """Each run's results.json (its timeline: `/runs/{name}/timeline`)."""
    return [RunOut(**{**r, "results": {k: v for k, v in r["results"].items() if k != TIMELINE}})
            for r in ctx.store.runs()]


@router.get("/runs/{name}/timeline", response_model=dict[str, RunTimeline], tags=["bench"],
            operation_id="run_timeline")
def run_timeline(name: str, ctx: Ctx, who: Principal = VIEWER) -> dict[str, RunTimeline]:
    """Per policy, total replicas (mean) and end-to-end p95 (worst) over the run, at most 500
    points, from the run's timeline.csv; 404 when the run has none."""
    run = ctx.store.run(name)
    if run is None:
        raise ApiError(404, f"unknown run {name[:64]!r}", "name")
    if TIMELINE not in run["results"]:
        raise ApiError(404, f"run {name[:64]!r} was stored without its timeline.csv", "name")
    return {p: RunTimeline(**v) for p, v in run["results"][TIMELINE].items()}


@router.get("/audit", response_model=list[AuditOut], tags=["auth"], operation_id="audit_log")
def audit_log(ctx: Ctx, who: Principal = ADMIN,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    return [AuditOut(**r) for r in ctx.store.audit_log(limit)]

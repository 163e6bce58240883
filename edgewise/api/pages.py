"""The dashboard: server-rendered pages (Jinja2, SVG charts drawn here), a login form setting
an HttpOnly SameSite=Strict cookie, and operator forms that go through the same checks and audit
as the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from edgewise.api import charts
from edgewise.api.auth import Principal, Role
from edgewise.api.context import COOKIE, Context, context, principal
from edgewise.api.errors import ApiError, SourceUnavailableError
from edgewise.api.fleet import SortKey, select_rows
from edgewise.api.routes import set_mode as api_set_mode
from edgewise.api.routes import set_paused as api_set_paused
from edgewise.api.schemas import ModeChange, PauseChange
from edgewise.api.sources import SeriesKind
from edgewise.api.timerange import time_range

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Who = Annotated["Principal | None", Depends(principal)]


def pct(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f}%"


def num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


templates.env.filters["pct"] = pct
templates.env.filters["num"] = num


def login_redirect(request: Request) -> Response:
    return RedirectResponse("/login", status_code=303)


def render(request: Request, name: str, who: Principal | None, **kw: Any) -> HTMLResponse:
    ctx: Context = request.app.state.context
    return templates.TemplateResponse(request, name, {
        "who": who, "operator": who is not None and who.role >= Role.OPERATOR,
        "stale": ctx.readings.freshness.stale_since(),
        "failing": ctx.readings.freshness.failing, **kw})


def unavailable_page(request: Request, e: SourceUnavailableError) -> Response:
    resp = render(request, "unavailable.html", None, reason=f"{e.source}: {e.reason}")
    resp.status_code = 503
    return resp


def viewer_of(who: Principal | None) -> Principal:
    if who is None:
        raise ApiError(401, "log in", "authorization")
    if who.role < Role.VIEWER:
        raise ApiError(403, f"{who.name} may not read PredictiveScalers", "authorization")
    return who


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", None, error=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, ctx: Ctx, token: Annotated[str, Form(max_length=8192)]) -> Response:
    who = ctx.auth.principal(token)
    if who is None:
        resp = render(request, "login.html", None, error="unknown token")
        resp.status_code = 401
        return resp
    ok = RedirectResponse("/", status_code=303)
    ok.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600)
    return ok


@router.post("/logout")
def logout() -> Response:
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, ctx: Ctx, who: Who, q: str = "", sort: str = "app",
                  mode: str = "", desc: bool = False) -> Response:
    viewer = viewer_of(who)
    key = SortKey(sort) if sort in {k.value for k in SortKey} else SortKey.APP
    q_ok = q if q.replace("-", "").isalnum() and q.islower() else ""
    rows = select_rows(ctx.readings.rows(), contains=q_ok or None,
                       mode=mode if mode in ("Active", "Shadow", "Off") else None,
                       sort=key, descending=desc)
    return render(request, "overview.html", viewer, rows=rows, q=q_ok, sort=key.value,
                   mode=mode, desc=desc)


def _lines(ctx: Context, app: str, kind: SeriesKind, start: float, end: float, step: float,
           suffix: str = "", dashed: bool = False) -> list[charts.Line]:
    return [charts.Line(f"{s.name}{suffix}", s.points, dashed)
            for s in ctx.readings.series(app, kind, start, end, step)]


@router.get("/apps/{app}", response_class=HTMLResponse)
def app_page(request: Request, app: str, ctx: Ctx, who: Who) -> Response:
    viewer = viewer_of(who)
    row = ctx.readings.app(app)
    r = time_range(None, None, None, ctx.readings.clock())
    args = (ctx, app, r.start, r.end, r.step_seconds)
    threshold = next((s.slo.threshold_seconds for s in row.slos
                      if s.slo.threshold_seconds is not None), None)
    svg = {
        "demand": charts.line_chart("demand vs forecast", _lines(
            *args[:2], SeriesKind.DEMAND_RPS, *args[2:])
            + _lines(*args[:2], SeriesKind.FORECAST_P50_RPS, *args[2:], " P50", True)
            + _lines(*args[:2], SeriesKind.FORECAST_P90_RPS, *args[2:], " P90", True),
            "requests/s"),
        "replicas": charts.line_chart("replicas", _lines(
            *args[:2], SeriesKind.REPLICAS_DESIRED, *args[2:], " desired", True)
            + _lines(*args[:2], SeriesKind.REPLICAS_READY, *args[2:], " ready"), "replicas"),
        "p95": charts.line_chart("p95 vs SLO", _lines(*args[:2], SeriesKind.P95_LATENCY_MS,
                                                      *args[2:]), "p95 ms",
                                 threshold * 1000 if threshold else None),
    }
    events = {f"{s.namespace}/{s.name}": (ctx.readings.fleet.events(s.namespace, s.name)
                                          if ctx.readings.fleet else []) for s in row.scalers}
    calendar = [e for run in ctx.store.runs() if run["scenario"] == app
                for e in run["results"].get("events", [])]
    return render(request, "app.html", viewer, row=row,
                   svg={k: Markup(v) for k, v in svg.items()}, events=events,
                   calendar=calendar)


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise ApiError(403, "cross-site form post refused", "origin")


@router.post("/apps/{app}/scalers/{namespace}/{name}/mode")
def mode_form(request: Request, app: str, namespace: str, name: str, ctx: Ctx, who: Who,
              mode: Annotated[str, Form()]) -> Response:
    same_origin(request)
    viewer = viewer_of(who)
    if viewer.role < Role.OPERATOR:
        raise ApiError(403, "changing a mode needs the operator role", "authorization")
    if mode not in ("Active", "Shadow", "Off"):
        raise ApiError(422, "mode must be Active, Shadow or Off", "mode")
    api_set_mode(namespace, name, ModeChange(mode=mode), ctx, viewer)  # type: ignore[arg-type]
    return RedirectResponse(f"/apps/{app}", status_code=303)


@router.post("/apps/{app}/scalers/{namespace}/{name}/paused")
def paused_form(request: Request, app: str, namespace: str, name: str, ctx: Ctx, who: Who,
                paused: Annotated[str, Form()]) -> Response:
    same_origin(request)
    viewer = viewer_of(who)
    if viewer.role < Role.OPERATOR:
        raise ApiError(403, "pausing a scaler needs the operator role", "authorization")
    if paused not in ("true", "false"):
        raise ApiError(422, "paused must be true or false", "paused")
    api_set_paused(namespace, name, PauseChange(paused=paused == "true"), ctx, viewer)
    return RedirectResponse(f"/apps/{app}", status_code=303)

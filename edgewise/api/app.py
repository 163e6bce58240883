"""The FastAPI application: routes, error bodies (4xx naming the field, 503 when a source is
down, never a 500), the strict CSP, and /metrics (request duration by route and code)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgewise.api import pages, routes, viewpages, views
from edgewise.api.context import Context
from edgewise.api.errors import ApiError, SourceUnavailableError

log = logging.getLogger("edgewise.api")
STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
TITLE = "Edgewise"
VERSION = "1"


def _error(status: int, message: str, field: str | None) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


def _field(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> Response:
        if request.url.path.startswith("/api/") or e.status != 401:
            return _error(e.status, e.message, e.field)
        return pages.login_redirect(request)

    @app.exception_handler(SourceUnavailableError)
    async def unavailable(request: Request, e: SourceUnavailableError) -> Response:
        if not request.url.path.startswith("/api/"):
            return pages.unavailable_page(request, e)
        return _error(503, f"{e.source} unavailable: {e.reason}", e.source)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> Response:
        first = e.errors()[0] if e.errors() else {"loc": ("request",), "msg": "invalid"}
        return _error(422, str(first.get("msg", "invalid")), _field(tuple(first["loc"])))

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, e: StarletteHTTPException) -> Response:
        return _error(e.status_code, str(e.detail), None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return _error(503, f"temporarily unable to answer ({type(e).__name__})", None)


HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin")]  # no-referrer makes Origin "null"


class Measured:
    """Pure ASGI middleware (no BaseHTTPMiddleware task per request): the duration histogram
    by route, method and code, and the security headers on every response."""

    def __init__(self, app: ASGIApp, duration: Histogram) -> None:
        self.app, self.duration = app, duration

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        code = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                code[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), *HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            code[0] = 503  # what the catch-all handler outside this middleware answers
            raise
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.duration.labels(path, scope["method"], str(code[0])).observe(
                time.perf_counter() - t0)


def _install_metrics(app: FastAPI, registry: CollectorRegistry) -> None:
    duration = Histogram("edgewise_http_request_duration_seconds",
                         "Time to answer an HTTP request", ["route", "method", "code"],
                         registry=registry,
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
    app.add_middleware(Measured, duration=duration)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(title=TITLE, version=VERSION, docs_url=None, redoc_url=None,
                  description="SLOs, error budgets and the fleet of PredictiveScalers.")
    app.state.context = ctx
    _install_errors(app)
    _install_metrics(app, CollectorRegistry())
    app.include_router(routes.router)
    app.include_router(views.router)
    app.include_router(pages.router)
    app.include_router(viewpages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return app

"""`edgewise serve`: the API and dashboard (uvicorn, loopback by default);
`edgewise serve token create --role viewer`; `edgewise serve --demo`.

Exit codes: 0 success, 2 bad input (one line on stderr naming it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from edgewise import flag_types
from edgewise.exits import Exit

EXIT_OK, EXIT_USAGE = Exit.OK, Exit.USAGE


def _fail(message: str) -> int:
    print(f"edgewise: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def default_db() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share")
    return base / "edgewise" / "edgewise.db"


def _url(args: argparse.Namespace) -> str:
    from edgewise.api.settings import sqlite_url

    return str(args.database_url or sqlite_url(Path(args.db or default_db())))


def cmd_token(args: argparse.Namespace) -> int:
    from edgewise.api.auth import Role, create_token
    from edgewise.api.store import Store, migrate

    role = Role.parse(args.role)
    url = _url(args)
    migrate(url)
    token = create_token(Store(url), args.name or f"{role.label}-{int(time.time())}", role)
    print(token)
    print(f"({role.label} token; shown once, stored as its SHA-256 only)", file=sys.stderr)
    return EXIT_OK


def _slos(args: argparse.Namespace) -> Any:
    from slo.model import load_slos

    return load_slos(Path(args.slos)) if args.slos else ()


def build_app(args: argparse.Namespace, url: str, slos: Any, demo: bool) -> Any:
    from edgewise.api.app import create_app
    from edgewise.api.auth import Authenticator
    from edgewise.api.context import Context
    from edgewise.api.readings import Readings
    from edgewise.api.sources import SloSource, StoreSource
    from edgewise.api.store import Store

    store = Store(url)
    source: SloSource | None = StoreSource(store) if demo else None
    if args.prometheus:
        from edgewise.api.prometheus_source import PrometheusSource

        source = PrometheusSource(args.prometheus)
    fleet, kube = None, None
    if args.kubeconfig or args.in_cluster:
        from edgewise.api.cluster import KubeFleet

        fleet = KubeFleet(args.kubeconfig)
        if args.kube_auth:
            from edgewise.api.kube_auth import KubeReviewer

            kube = KubeReviewer(fleet.api)
    from edgewise.api.slicestatus import SliceStatusFiles

    ctx = Context(store, Authenticator(store, kube), Readings(slos, source, fleet),
                  Path(args.audit_log) if args.audit_log else None,
                  SliceStatusFiles(tuple(Path(p) for p in args.slice_status or ())))
    return create_app(ctx)


def load_outputs(args: argparse.Namespace, url: str) -> None:
    """--bench, --plan and --placement into the store (PlanFileError: exit 2)."""
    from edgewise.api.artifacts import load_bench, load_placement, load_plan
    from edgewise.api.eventplan import PlanFileError
    from edgewise.api.store import Store

    if args.placement and not args.topology:
        raise PlanFileError("--placement needs --topology FILE (the fleet it was made for)")
    store = Store(url)
    for d in args.bench or ():
        load_bench(store, Path(d))
    for d in args.plan or ():
        load_plan(store, Path(d))
    for d in args.placement or ():
        load_placement(store, Path(d), Path(args.topology))


WORKER_ARGS = "EDGEWISE_SERVE_WORKER_ARGS"


def worker_app() -> Any:
    """The app of one uvicorn worker process (--workers > 1): the parent's arguments."""
    import json

    saved = json.loads(os.environ[WORKER_ARGS])
    args = argparse.Namespace(**saved["args"])
    slos = _slos(args)
    if saved["demo"]:
        from edgewise.api.demo import demo_slos

        slos = slos or demo_slos()
    return build_app(args, saved["url"], slos, saved["demo"])


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from edgewise.api.store import migrate
    from slo.errors import SloError

    try:
        slos = _slos(args)
    except SloError as e:
        return _fail(str(e))
    from edgewise.api.eventplan import PlanFileError

    url = _url(args)
    try:
        if args.demo:
            url = _demo(args, slos)
            from edgewise.api.demo import demo_slos

            slos = slos or demo_slos()
        else:
            migrate(url)
        load_outputs(args, url)
    except PlanFileError as e:
        return _fail(str(e))
    print(f"edgewise: serving on http://{args.host}:{args.port}/", flush=True)
    run = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:
        import json

        keep = {k: v for k, v in vars(args).items() if k != "func"}
        os.environ[WORKER_ARGS] = json.dumps({"args": keep, "url": url, "demo": args.demo})
        uvicorn.run("edgewise.serve_cmd:worker_app", factory=True, workers=args.workers, **run)
    else:
        uvicorn.run(build_app(args, url, slos, args.demo), **run)
    return EXIT_OK


def _demo(args: argparse.Namespace, slos: Any) -> str:
    from edgewise.api.auth import Role, create_token
    from edgewise.api.demo import demo_slos, load_demo
    from edgewise.api.settings import sqlite_url
    from edgewise.api.store import Store, migrate

    url = args.database_url or sqlite_url(Path(args.db) if args.db else Path(
        tempfile.mkdtemp(prefix="edgewise-demo-")) / "demo.db")
    migrate(url)
    store = Store(url)
    load_demo(store, time.time(), slos or demo_slos(),
              on_step=lambda n: print(f"edgewise: demo: running the twin on {n}", flush=True))
    token = create_token(store, "demo-viewer", Role.VIEWER)
    print(f"edgewise: demo store {url}", flush=True)
    print(f"edgewise: demo viewer token (log in at http://{args.host}:{args.port}/login): "
          f"{token}", flush=True)
    return str(url)


def add_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="the SLO API and dashboard",
        description="Serve /api/v1 and the dashboard (FastAPI on uvicorn), reading SLOs from "
        "Prometheus recording rules (`edgewise slo rules`), PredictiveScalers from the "
        "Kubernetes API and its own store. Binds 127.0.0.1 unless --host says otherwise.")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", help=f"SQLite store file (default {default_db()}, made 0600)")
    serve.add_argument("--database-url", help="SQLAlchemy URL instead, e.g. "
                       "postgresql+psycopg2://user@host/db")
    serve.add_argument("--slos", help="SLO YAML file (see examples/slos.yaml)")
    serve.add_argument("--prometheus", help="Prometheus URL holding the SLO recording rules")
    serve.add_argument("--kubeconfig", help="kubeconfig for PredictiveScalers and Events")
    serve.add_argument("--in-cluster", action="store_true",
                       help="use the Pod's service account for the Kubernetes API")
    serve.add_argument("--kube-auth", action="store_true",
                       help="accept Kubernetes bearer tokens (TokenReview + SubjectAccessReview)")
    serve.add_argument("--audit-log", help="append the audit log as JSON lines to this file")
    serve.add_argument("--bench", action="append", metavar="DIR",
                       help="a bench output directory (results.json) to show; repeatable")
    serve.add_argument("--plan", action="append", metavar="DIR",
                       help="an `edgewise plan --out` directory to show beside what happened "
                       "(Q4); repeatable")
    serve.add_argument("--placement", action="append", metavar="DIR",
                       help="an `edgewise place --out` directory (plan.json) to map; repeatable")
    serve.add_argument("--topology", metavar="FILE",
                       help="the fleet topology YAML the --placement plans were made for")
    serve.add_argument("--slice-status", action="append", metavar="FILE",
                       help="a file `edgewise slice status --json` writes (re-read when it "
                       "changes); repeatable")
    serve.add_argument("--workers", type=flag_types.integer(minimum=1, maximum=64), default=1,
                       help="uvicorn worker processes (default 1)")
    serve.add_argument("--demo", action="store_true",
                       help="run black-friday and flash-sale in the twin into a fresh store and "
                       "serve them; prints the URL and a viewer token")
    serve.set_defaults(func=cmd_serve)
    inner = serve.add_subparsers(dest="serve_command", parser_class=type(serve))
    token = inner.add_parser("token", help="local API tokens")
    tsub = token.add_subparsers(dest="token_command", required=True, parser_class=type(serve))
    create = tsub.add_parser("create", help="make a token, print it once")
    create.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    create.add_argument("--name", help="who the token is for (shown in the audit log)")
    create.add_argument("--db", help=f"SQLite store file (default {default_db()})")
    create.add_argument("--database-url", help="SQLAlchemy URL instead")
    create.set_defaults(func=cmd_token)

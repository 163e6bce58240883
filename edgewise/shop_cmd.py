"""`edgewise shop serve`: one service of the retail app the twin is checked against
(retail/app.py; docs/controller.md, "The retail app").

Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad input (one line on stderr naming the flag).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from edgewise import flag_types
from edgewise.exits import Exit

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _endpoints(text: str) -> dict[str, list[str]]:
    """`svc=host:port[,svc=host:port...]` -> {svc: [host:port, ...]}."""
    out: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, where = part.partition("=")
        host, colon, port = where.rpartition(":")
        if not sep or not colon or not host or not port.isdigit():
            raise argparse.ArgumentTypeError(f"expected SERVICE=HOST:PORT, got {part!r}")
        out.setdefault(name, []).append(where)
    return out


def _namespace(flag: str | None) -> str:
    if flag:
        return flag
    if NAMESPACE_FILE.is_file():
        return NAMESPACE_FILE.read_text().strip()
    return os.environ.get("POD_NAMESPACE", "default")


def cmd_serve(args: argparse.Namespace) -> int:
    from retail.app import CpuDistribution, ServiceConfig, serve

    config = ServiceConfig(
        name=args.service, cpu_ms=args.cpu_ms, startup_seconds=args.startup_seconds,
        calls=tuple(args.call), concurrency=args.concurrency,
        distribution=CpuDistribution(args.distribution), port=args.port, host=args.host,
        namespace=_namespace(args.namespace), seed=args.seed,
        **({} if args.drain_seconds is None else {"drain_seconds": args.drain_seconds}))
    serve(config, static=args.endpoints)
    return Exit.OK


def add_parser(sub: Any) -> None:
    shop = sub.add_parser("shop", help="the retail app the twin is checked against",
                          description="A small retail app (frontend -> checkout -> payment) "
                          "for checking the twin against a real node: docs/controller.md.")
    inner = shop.add_subparsers(dest="shop_command", required=True, parser_class=type(shop))
    s = inner.add_parser(
        "serve", help="run one service of the app",
        description="An HTTP service that burns CPU per request (exponential with mean "
        "--cpu-ms, or fixed), then calls each --call service in turn (least-outstanding ready "
        "endpoint of that Service, read from the Kubernetes API in a Pod). /readyz turns 200 "
        "--startup-seconds after start; /healthz; /metrics with request-duration histograms. "
        "SIGTERM drains: /readyz 503, answers for --drain-seconds more, then finishes the "
        "requests in flight and exits.")
    s.add_argument("--service", required=True, type=flag_types.dns_label,
                   help="this service's name (the `service` label of its metrics)")
    s.add_argument("--cpu-ms", type=flag_types.number(minimum=0, maximum=10_000), default=5.0,
                   help="mean CPU milliseconds burnt per request (default 5)")
    s.add_argument("--distribution", choices=("exponential", "fixed"), default="exponential",
                   help="CPU time per request: exponential with mean --cpu-ms (default) or fixed")
    s.add_argument("--startup-seconds", type=flag_types.number(minimum=0, maximum=3600),
                   default=0.0, help="seconds after start before /readyz is 200 (default 0)")
    s.add_argument("--drain-seconds", type=flag_types.number(minimum=0, maximum=600),
                   default=None, help="after SIGTERM, seconds to keep answering while callers "
                   "stop sending to the Pod (default: retail.app.DRAIN_SECONDS, 2)")
    s.add_argument("--call", action="append", default=[], type=flag_types.dns_label,
                   metavar="SERVICE", help="a service to call per request (repeatable, in order)")
    s.add_argument("--concurrency", type=flag_types.integer(1, 64), default=1,
                   help="requests burning CPU at once per replica (default 1)")
    s.add_argument("--port", type=flag_types.integer(1, 65535), default=8080)
    s.add_argument("--host", type=flag_types.address, default="0.0.0.0",
                   help="address to listen on (default 0.0.0.0: the Pod's own network)")
    s.add_argument("--namespace", help="namespace of the called Services (default: the Pod's)")
    s.add_argument("--endpoints", type=_endpoints, default=None, metavar="SVC=HOST:PORT,...",
                   help="fixed endpoints of called services instead of the Kubernetes API")
    s.add_argument("--seed", type=flag_types.seed, default=None,
                   help="seed of the CPU-time draws (default: from the OS)")
    s.set_defaults(func=cmd_serve)

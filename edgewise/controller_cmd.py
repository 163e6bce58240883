"""`edgewise controller | manifests | replay`: registered into edgewise/cli.py by `add_parser`.

Bad input (a flag, a file, a scenario): one line on stderr naming it, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from edgewise.exits import Exit

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = Exit.OK, Exit.FAILURE, Exit.USAGE


def _fail(message: str) -> int:
    print(f"edgewise: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_manifests(args: argparse.Namespace) -> int:
    from controller.manifests import render

    files = render()
    if args.out == "-":
        for name, text in files.items():
            sys.stdout.write(f"# --- {name}\n{text}")
        return EXIT_OK
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _fail(f"--out {args.out!r} is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    print(f"wrote {', '.join(files)} to {out}")
    return EXIT_OK


def _client(kubeconfig: str | None) -> Any:
    from controller.kube import api_client

    if kubeconfig and not Path(kubeconfig).is_file():
        raise FileNotFoundError(f"--kubeconfig {kubeconfig!r}: no such file")
    return api_client(kubeconfig)


def _decision_log(path: str | None) -> Any:
    if not path:
        return None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a", buffering=1)  # noqa: SIM115 (kept open for the process lifetime)

    def write(line: str) -> None:
        handle.write(line + "\n")

    return write


def _trusted_keys(paths: list[str] | None) -> tuple[Any, ...]:
    from scaler.errors import KeyFileError
    from scaler.learned.signature import load_public_key

    try:
        return tuple(load_public_key(Path(p)) for p in paths or ())
    except KeyFileError as e:
        raise ValueError(f"--trusted-model-key: {e}") from None


def build_controller(args: argparse.Namespace) -> Any:
    from controller.informer import Informer
    from controller.kube import KubeCluster, KubeLeases
    from controller.leader import LeaderConfig, LeaderElector
    from controller.loop import Controller, utc_now
    from controller.prometheus import PrometheusReader
    from controller.reconcile import Reconciler
    from controller.scrape import DirectReader
    from controller.telemetry import Telemetry

    keys = _trusted_keys(args.trusted_model_key)  # before the cluster: a bad key is bad input
    api = _client(args.kubeconfig)
    cluster = KubeCluster(api)
    telemetry = Telemetry(_decision_log(args.decision_log))
    readers: dict[str, Any] = {}

    def prom(url: str) -> Any:
        return readers.setdefault(url, PrometheusReader(url))

    reconciler = Reconciler(cluster, prom, lambda url: DirectReader(url, utc_now), telemetry,
                            utc_now, trusted_model_keys=keys)
    identity = (args.identity or os.environ.get("POD_NAME")
                or f"{socket.gethostname()}-{os.getpid()}")
    elector = LeaderElector(LeaderConfig(identity, args.lease_duration, args.renew_deadline,
                                         args.retry_period), utc_now)
    informer = Informer(cluster, args.namespace, restarts=telemetry.watch_restarts)
    controller = Controller(
        reconciler, informer, elector,
        KubeLeases(api, args.lease_namespace, args.lease_name), workers=args.workers,
        tick_seconds=args.tick, reconcile_seconds=telemetry.reconcile_seconds,
        leader_gauge=telemetry.leader, errors=telemetry.reconcile_errors)
    return controller, telemetry


def cmd_controller(args: argparse.Namespace) -> int:
    from controller.loop import setup_logging
    from controller.telemetry import serve

    setup_logging(args.log_level)
    try:
        controller, telemetry = build_controller(args)
    except (FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    except Exception as e:  # kubernetes.config.ConfigException and friends
        return _fail(f"cannot load Kubernetes config: {e}")
    server = serve(telemetry, args.metrics_port, controller.healthy, controller.ready,
                   args.metrics_address)
    print(f"edgewise controller: /metrics on {server.server_address[1]}", file=sys.stderr,
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: controller.stop())
    signal.signal(signal.SIGINT, lambda *_: controller.stop())
    controller.run()
    server.shutdown()
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    import logging

    from controller.kube import KubeCluster
    from envs.errors import EnvError
    from envs.scenario import load_scenario
    from evaluation.replay import Replay, ReplayConfig

    logging.basicConfig(level=logging.INFO)
    if args.speed <= 0:
        return _fail(f"--speed must be > 0, got {args.speed}")
    try:
        scenario = load_scenario(args.scenario)
        cluster = KubeCluster(_client(args.kubeconfig)) if args.kubeconfig else None
    except (EnvError, FileNotFoundError) as e:
        return _fail(str(e))
    anchor = args.anchor if args.anchor is not None else time.time()
    replay = Replay(scenario, cluster, ReplayConfig(args.namespace, args.speed, anchor,
                                                    args.seed, args.ticks))
    replay.serve(args.port, args.address)
    print(f"edgewise replay: {scenario.name} x{args.speed:g} on port {args.port}",
          file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: replay.stop.set())
    ticks = replay.run()
    print(f"edgewise replay: played {ticks} ticks", file=sys.stderr)
    return EXIT_OK


def _controller_parser(sub: Any) -> None:
    p = sub.add_parser("controller", help="run the PredictiveScaler controller",
                       description="Reconcile every PredictiveScaler: read Prometheus, decide "
                       "(policy + guardrails), scale or raise an HPA's minReplicas. Out of "
                       "cluster with --kubeconfig, else in-cluster config.")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster service account)")
    p.add_argument("--namespace", help="watch one namespace (default: all)")
    p.add_argument("--metrics-address", default="127.0.0.1")
    p.add_argument("--metrics-port", type=int, default=8080,
                   help="port of /metrics, /healthz, /readyz (0: any free port)")
    p.add_argument("--lease-namespace", default="default")
    p.add_argument("--lease-name", default="edgewise-controller-leader")
    p.add_argument("--identity", help="leader-election identity (default: $POD_NAME)")
    p.add_argument("--lease-duration", type=int, default=15)
    p.add_argument("--renew-deadline", type=float, default=10.0)
    p.add_argument("--retry-period", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=8, help="parallel reconciles")
    p.add_argument("--tick", type=float, default=0.5, help="scheduler resolution in seconds")
    p.add_argument("--decision-log", help="append every decision as a JSON line to this file")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--trusted-model-key", metavar="PUB", action="append",
                   help="PEM Ed25519 public key (repeat for several): every rl model must be "
                   "signed by one of them, else the scaler falls back to the reactive rule "
                   "(Fallback reason ModelLoadFailed); a spec's model.trustedPublicKey can only "
                   "narrow this set")
    p.set_defaults(func=cmd_controller)


def _replay_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="play a twin scenario live for Prometheus to scrape",
                       description="Play a scenario in compressed real time, follow each "
                       "service's Deployment replicas, expose per-service gauges.")
    p.add_argument("--scenario", required=True, help="built-in scenario name or YAML file")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second")
    p.add_argument("--anchor", type=float, help="Unix time at which the scenario starts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ticks", type=int, help="stop after this many ticks")
    p.add_argument("--kubeconfig", help="follow Deployments through this kubeconfig")
    p.add_argument("--namespace", default="default")
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9464)
    p.set_defaults(func=cmd_replay)


def add_parser(sub: Any) -> None:
    _controller_parser(sub)
    m = sub.add_parser("manifests", help="write deploy/: CRD, RBAC, Deployment, kustomization")
    m.add_argument("--out", default="deploy", help="directory, or - for stdout")
    m.set_defaults(func=cmd_manifests)
    _replay_parser(sub)

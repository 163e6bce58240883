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

from edgewise import flag_types
from edgewise.exits import Exit, fail
from edgewise.outputs import claim_dir
from envs.number import MAX_TICKS

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = Exit.OK, Exit.FAILURE, Exit.USAGE


def _fail(message: str) -> int:
    return fail("edgewise", message)


def cmd_manifests(args: argparse.Namespace) -> int:
    from controller.manifests import render

    files = render()
    if args.out == "-":
        for name, text in files.items():
            sys.stdout.write(f"# --- {name}\n{text}")
        return EXIT_OK
    out = Path(args.out)
    claim_dir(out, list(files), force=args.force)
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
    """An appender for --decision-log, opened now so a path we cannot write is named at once."""
    if not path:
        return None
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", buffering=1)  # noqa: SIM115 (kept open for the process lifetime)
    except OSError as e:
        raise ValueError(f"--decision-log {path!r}: {e.strerror or e}") from e

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
    from controller.metrics_fetch import UrlPolicy
    from controller.prometheus import PrometheusReader
    from controller.reconcile import Reconciler
    from controller.scrape import DirectReader
    from controller.telemetry import Telemetry

    decisions = _decision_log(args.decision_log)  # first: an unwritable path is named as such
    keys = _trusted_keys(args.trusted_model_key)  # before the cluster: a bad key is bad input
    try:
        api = _client(args.kubeconfig)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as e:  # kubernetes.config.ConfigException and friends
        raise ValueError(f"cannot load Kubernetes config: {e}") from e
    cluster = KubeCluster(api)
    telemetry = Telemetry(decisions)
    readers: dict[str, Any] = {}
    policy = UrlPolicy(tuple(args.allow_metrics_host))

    def prom(url: str) -> Any:
        return readers.setdefault(url, PrometheusReader(url, policy))

    reconciler = Reconciler(cluster, prom, lambda url: DirectReader(url, utc_now, policy),
                            telemetry, utc_now, trusted_model_keys=keys)
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
                       "cluster with --kubeconfig, else in-cluster config. Writes nothing but "
                       "--decision-log (appended).")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster service account)")
    p.add_argument("--namespace", type=flag_types.dns_label,
                   help="watch one namespace (default: all)")
    p.add_argument("--metrics-address", type=flag_types.address, default="127.0.0.1")
    p.add_argument("--metrics-port", type=flag_types.port_or_zero, default=8080,
                   help="port of /metrics, /healthz, /readyz (0: any free port)")
    p.add_argument("--lease-namespace", type=flag_types.dns_label, default="default")
    p.add_argument("--lease-name", default="edgewise-controller-leader")
    p.add_argument("--identity", help="leader-election identity (default: $POD_NAME)")
    p.add_argument("--lease-duration", type=flag_types.integer(1, 3600), default=15)
    p.add_argument("--renew-deadline", type=flag_types.number(above=0, maximum=3600),
                   default=10.0)
    p.add_argument("--retry-period", type=flag_types.number(above=0, maximum=3600), default=2.0)
    p.add_argument("--workers", type=flag_types.integer(1, 256), default=8,
                   help="parallel reconciles")
    p.add_argument("--tick", type=flag_types.number(above=0, maximum=60), default=0.5,
                   help="scheduler resolution in seconds")
    p.add_argument("--decision-log", help="append every decision as a JSON line to this file")
    p.add_argument("--log-level", type=flag_types.log_level, default="INFO",
                   help=f"one of {', '.join(flag_types.LOG_LEVELS)} (default INFO)")
    p.add_argument("--allow-metrics-host", action="append", default=[], metavar="HOST[:PORT]",
                   help="fetch spec.metrics.prometheusUrl / directUrl only from this host "
                   "(repeatable; shell-style wildcards, e.g. '*.monitoring.svc'); default: any "
                   "host (see docs/security.md, Controller fetches)")
    p.add_argument("--trusted-model-key", metavar="PUB", action="append",
                   help="PEM Ed25519 public key (repeat for several): every rl model must be "
                   "signed by one of them, else the scaler falls back to the reactive rule "
                   "(Fallback reason ModelLoadFailed); a spec's model.trustedPublicKey can only "
                   "narrow this set")
    p.set_defaults(func=cmd_controller)


def _replay_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="play a twin scenario live for Prometheus to scrape",
                       description="Play a scenario in compressed real time, follow each "
                       "service's Deployment replicas, expose per-service gauges. Writes no "
                       "files.")
    p.add_argument("--scenario", required=True, help="built-in scenario name or YAML file")
    p.add_argument("--speed", type=flag_types.number(above=0, maximum=1e6), default=60.0,
                   help="simulated seconds per second")
    p.add_argument("--anchor", type=flag_types.number(minimum=0, maximum=1e11),
                   help="Unix time at which the scenario starts")
    p.add_argument("--seed", type=flag_types.seed, default=0)
    p.add_argument("--ticks", type=flag_types.integer(1, MAX_TICKS),
                   help="stop after this many ticks")
    p.add_argument("--kubeconfig", help="follow Deployments through this kubeconfig")
    p.add_argument("--namespace", type=flag_types.dns_label, default="default")
    p.add_argument("--address", type=flag_types.address, default="127.0.0.1")
    p.add_argument("--port", type=flag_types.port, default=9464)
    p.set_defaults(func=cmd_replay)


def add_parser(sub: Any) -> None:
    _controller_parser(sub)
    m = sub.add_parser("manifests", help="write deploy/: CRD, RBAC, Deployment, kustomization",
                       description="Write the controller's manifests (crd.yaml, rbac.yaml, "
                       "namespace.yaml, deployment.yaml, kustomization.yaml) into --out. "
                       "Existing files of those names are refused unless --force; other files "
                       "in --out are left alone.")
    m.add_argument("--out", required=True, help="directory (e.g. deploy), or - for stdout")
    m.add_argument("--force", action="store_true", help="replace existing manifest files")
    m.set_defaults(func=cmd_manifests)
    _replay_parser(sub)

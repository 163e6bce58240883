"""How many PredictiveScalers one controller keeps up with.

Starts a real control plane (etcd, kube-apiserver, kube-controller-manager; scripts/build-k8s.sh
builds and caches them) and Debian's Prometheus scraping a metrics endpoint, creates N
Deployments with one PredictiveScaler each, runs the controller in-process for a few periods,
and prints reconcile p50/p99 and the share of periods in which every scaler was reconciled.

    python -m bench.controller_scale --scalers 200 --period 15 --periods 4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.k8slab import ControlPlane, Prometheus, free_port, wait_for
from controller import metric_names as names


def _metrics_server(port: int) -> None:
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    r = CollectorRegistry()
    for name, value in ((names.SERVICE_RATE, 20.0),
                        (names.SERVICE_CPU, 0.6),
                        (names.SERVICE_P95, 0.1)):
        Gauge(name, name, ["service"], registry=r).labels("web").set(value)
    start_http_server(port, addr="127.0.0.1", registry=r)


def _objects(api: Any, n: int, period: float, prom_url: str) -> None:
    from kubernetes import client

    from controller.crd import crd_manifest
    from controller.spec import GROUP, PLURAL, VERSION

    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(crd_manifest())
    wait_for(lambda: any(c.type == "Established" and c.status == "True" for c in
                         ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
                         .status.conditions or []), 30, "CRD")
    time.sleep(1)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    core.create_namespace({"metadata": {"name": "bench"}})
    graph = {"entry": "web", "services": {"web": {"capacity_rps": 10, "startup_seconds": 5}}}
    sel = 'service="$service"'
    for i in range(n):
        name = f"app-{i:03d}"
        labels = {"app": name}
        apps.create_namespaced_deployment("bench", {
            "metadata": {"name": name}, "spec": {
                "replicas": 3, "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {
                    "automountServiceAccountToken": False,
                    "containers": [{"name": "a", "image": "registry.invalid/a:1"}]}}}})
        custom.create_namespaced_custom_object(GROUP, VERSION, "bench", PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "PredictiveScaler",
            "metadata": {"name": name},
            "spec": {"targets": [{"name": name, "service": "web"}], "graph": {"inline": graph},
                     "periodSeconds": period, "metrics": {"prometheusUrl": prom_url, "queries": {
                         "rate": f"{names.SERVICE_RATE}{{{sel}}}",
                         "cpu": f"{names.SERVICE_CPU}{{{sel}}}",
                         "latency": f"{names.SERVICE_P95}{{{sel}}}"}}}})


def _controller(api: Any, workers: int, record: list[tuple[str, float, float]]) -> Any:
    from controller.informer import Informer
    from controller.kube import KubeCluster, KubeLeases
    from controller.leader import LeaderConfig, LeaderElector
    from controller.loop import Controller, utc_now
    from controller.prometheus import PrometheusReader
    from controller.reconcile import Reconciler
    from controller.scrape import DirectReader
    from controller.telemetry import Telemetry

    cluster = KubeCluster(api)
    telemetry = Telemetry()
    readers: dict[str, Any] = {}
    reconciler = Reconciler(cluster, lambda u: readers.setdefault(u, PrometheusReader(u)),
                            lambda u: DirectReader(u, utc_now), telemetry, utc_now)
    elector = LeaderElector(LeaderConfig("bench"), utc_now)
    lock = threading.Lock()

    def on(uid: str, start: float, elapsed: float) -> None:
        with lock:
            record.append((uid, start, elapsed))

    return Controller(reconciler, Informer(cluster, "bench"), elector,
                      KubeLeases(api, "bench", "bench-leader"), workers=workers,
                      on_reconciled=on, reconcile_seconds=telemetry.reconcile_seconds)


def summarize(record: list[tuple[str, float, float]], n: int, period: float) -> dict[str, Any]:
    """p50/p99 of reconcile time; a period counts as full when every scaler was reconciled in
    it. Periods start at the first reconcile (warm-up ends when all n were seen once)."""
    elapsed = np.array([e for _, _, e in record]) * 1000.0
    starts = sorted(s for _, s, _ in record)
    t0 = starts[0]
    last = starts[-1]
    windows = int((last - t0) // period)
    full = 0
    for k in range(windows):
        lo, hi = t0 + k * period, t0 + (k + 1) * period
        seen = {u for u, s, _ in record if lo <= s < hi}
        full += len(seen) == n
    return {"scalers": n, "reconcile_p50_ms": round(float(np.percentile(elapsed, 50)), 1),
            "reconcile_p99_ms": round(float(np.percentile(elapsed, 99)), 1),
            "full_period_share": round(full / windows, 3) if windows else 0.0,
            "periods": windows, "reconciles": len(record)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from controller.kube import api_client

    with tempfile.TemporaryDirectory(prefix="edgewise-bench-") as d:
        cp = ControlPlane(Path(d) / "k8s")
        prom: Prometheus | None = None
        try:
            cp.start()
            port = free_port()
            _metrics_server(port)
            prom = Prometheus(Path(d) / "prom", [f"127.0.0.1:{port}"]).start()
            api = api_client(str(cp.kubeconfig))
            _objects(api, args.scalers, args.period, prom.url)
            time.sleep(3)  # a few scrapes
            record: list[tuple[str, float, float]] = []
            ctl = _controller(api, args.workers, record)
            t = threading.Thread(target=ctl.run, daemon=True)
            t.start()
            time.sleep(args.period * (args.periods + 1) + 1)
            ctl.stop()
            t.join(30)
            return summarize(record, args.scalers, args.period)
        finally:
            if prom is not None:
                prom.stop()
            cp.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scalers", type=int, default=200)
    p.add_argument("--period", type=float, default=15.0)
    p.add_argument("--periods", type=int, default=4, help="periods measured")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    res = run(args)
    print(f"scalers {res['scalers']}: reconcile p50 {res['reconcile_p50_ms']} ms, "
          f"p99 {res['reconcile_p99_ms']} ms, every scaler reconciled in "
          f"{res['full_period_share']:.0%} of {res['periods']} periods")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

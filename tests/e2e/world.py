"""Per-test worlds for the controller e2e tests: a namespace, a Deployment per service, a
replayed scenario scraped by Prometheus, and controller processes."""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bench.k8slab import Proc, edgewise, free_port, wait_for
from controller import metric_names as names
from controller.spec import GROUP, PLURAL, VERSION
from envs.scenario import parse_scenario

SPEED = 60.0  # one simulated minute per second
GRAPH_SIM = {  # the replay's world, in simulated seconds
    "name": "shop", "entry": "web",
    "services": {"web": {"capacity_rps": 10, "concurrency": 1, "startup_seconds": 60,
                         "min_replicas": 1, "max_replicas": 40}},
}
GRAPH_REAL = {  # what the controller is told: the same service, start-up in real seconds
    "name": "shop", "entry": "web",
    "services": {"web": {"capacity_rps": 10, "concurrency": 1, "startup_seconds": 1,
                         "min_replicas": 1, "max_replicas": 40}},
}


def scenario_yaml(path: Path, event_at_minutes: float | None, uplift: float = 3.0) -> Path:
    events = []
    if event_at_minutes is not None:
        start = datetime(2026, 11, 27, 10, 0) + timedelta(minutes=event_at_minutes)
        events.append({"name": "doorbuster", "start": start.isoformat(), "multiplier": uplift,
                       "ramp": "1m", "peak": "20m", "decay": "1m"})
    graph_path = path.with_name(path.stem + "-graph.yaml")
    graph_path.write_text(yaml.safe_dump(GRAPH_SIM))
    doc = {"name": path.stem, "graph": graph_path.name, "start": "2026-11-27T10:00:00",
           "duration": "6h", "history": "1h", "tick_seconds": 60,
           "workload": {"base_rps": 20, "daily_profile": [1.0] * 24,
                        "weekly_profile": [1.0] * 7, "trend_per_week": 0.0, "noise_cv": 0.0},
           "events": events}
    path.write_text(yaml.safe_dump(doc))
    return path


def backfill(data_dir: Path, instance: str, days: float, end_epoch: int,
             daily_profile: list[float], base_rps: float = 40.0) -> dict[int, float]:
    """Per-service rate history of a twin scenario (one-minute ticks, the last at `end_epoch`)
    written into a Prometheus TSDB with `promtool tsdb create-blocks-from openmetrics`, under
    the labels a scrape of `edgewise replay` at `instance` gets. Returns epoch -> web's rps."""
    ticks = int(days * 1440)
    start = datetime.fromtimestamp(end_epoch - (ticks - 1) * 60, UTC).replace(tzinfo=None)
    scenario = parse_scenario({
        "name": "history", "graph": "graph.yaml", "start": start.isoformat(),
        "duration": ticks * 60, "history": 0, "tick_seconds": 60,
        "workload": {"base_rps": base_rps, "daily_profile": daily_profile,
                     "weekly_profile": [1.0] * 7, "trend_per_week": 0.0, "noise_cv": 0.0}},
        base_dir=_graph_dir(data_dir))
    _, run = scenario.demand(0)
    per_service = run[:, None] * scenario.config().visit_ratios[None, :]
    name = names.SERVICE_RATE
    lines = [f"# HELP {name} Offered load", f"# TYPE {name} gauge"]
    for j, service in enumerate(scenario.graph.names):
        labels = f'instance="{instance}",job="replay",service="{service}"'
        lines += [f"{name}{{{labels}}} {per_service[i, j]:.4f} {end_epoch - (ticks - 1 - i) * 60}"
                  for i in range(ticks)]
    text = data_dir.with_suffix(".om")
    text.write_text("\n".join(lines) + "\n# EOF\n")
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                    str(text), str(data_dir)], check=True, capture_output=True, timeout=300)
    web = scenario.graph.index("web")
    return {end_epoch - (ticks - 1 - i) * 60: float(per_service[i, web]) for i in range(ticks)}


def _graph_dir(data_dir: Path) -> Path:
    out = data_dir.parent / "graph"
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph.yaml").write_text(yaml.safe_dump(GRAPH_SIM))
    return out


def queries(instance: str) -> dict[str, str]:
    sel = f'instance="{instance}",service="$service"'
    return {"rate": f"{names.SERVICE_RATE}{{{sel}}}",
            "cpu": f"{names.SERVICE_CPU}{{{sel}}}",
            "latency": f"{names.SERVICE_P95}{{{sel}}}"}


def rfc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    api: client.ApiClient
    kubeconfig: Path
    workdir: Path
    namespace: str
    replay_port: int
    prometheus_url: str
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.autoscaling = client.AutoscalingV1Api(self.api)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.core.create_namespace(client.V1Namespace(
            metadata=client.V1ObjectMeta(name=self.namespace)))
        wait_for(lambda: self.core.read_namespaced_service_account("default", self.namespace)
                 is not None, 30, f"ServiceAccount {self.namespace}/default")

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.replay_port}"

    def deployment(self, name: str, replicas: int) -> None:
        labels = {"app": name}
        body = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": {
                             "automountServiceAccountToken": False,
                             # never pulled, should a real node (test_node_e2e) see it
                             "containers": [{"name": "app", "image": "registry.invalid/app:1",
                                             "imagePullPolicy": "Never",
                                             "resources": {"requests": {"cpu": "1"}}}]}}}}
        self.apps.create_namespaced_deployment(self.namespace, body)

    def replicas(self, name: str = "web") -> tuple[int, int]:
        d = self.apps.read_namespaced_deployment(name, self.namespace)
        return int(d.spec.replicas or 0), int(d.status.ready_replicas or 0)

    def replay(self, scenario: Path, anchor: float) -> Proc:
        p = edgewise(["replay", "--scenario", str(scenario), "--speed", str(SPEED),
                      "--anchor", str(anchor), "--kubeconfig", str(self.kubeconfig),
                      "--namespace", self.namespace, "--port", str(self.replay_port)],
                     self.workdir / "replay.log")
        self.procs.append(p)
        wait_for(lambda: requests.get(f"http://{self.instance}/metrics", timeout=1).ok, 30,
                 "replay /metrics")
        return p

    def wait_scraped(self) -> None:
        def scraped() -> bool:
            r = requests.get(f"{self.prometheus_url}/api/v1/query", timeout=2, params={
                "query": f'{names.SERVICE_RATE}{{instance="{self.instance}"}}'})
            return bool(r.json()["data"]["result"])
        wait_for(scraped, 30, "Prometheus to scrape the replay")

    def controller(self, tag: str, lease: str = "leader", extra: list[str] | None = None
                   ) -> tuple[Proc, int, Path]:
        port = free_port()
        log = self.workdir / f"decisions-{tag}.jsonl"
        p = edgewise(["controller", "--kubeconfig", str(self.kubeconfig), "--namespace",
                      self.namespace, "--metrics-port", str(port), "--lease-namespace",
                      self.namespace, "--lease-name", lease, "--identity", tag,
                      "--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1",
                      "--tick", "0.25", "--decision-log", str(log), *(extra or [])],
                     self.workdir / f"controller-{tag}.log")
        self.procs.append(p)
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok, 30,
                 f"controller {tag} /healthz")
        return p, port, log

    def scaler(self, name: str, *, mode: str = "Active", events: list[dict[str, Any]] = (),
               policy: dict[str, Any] | None = None, period: float = 2.0,
               cooldown: float = 6.0, direct: bool = True, prometheus_url: str | None = None,
               history_seconds: float | None = None, paused: bool = False) -> dict[str, Any]:
        metrics: dict[str, Any] = {"prometheusUrl": prometheus_url or self.prometheus_url,
                                   "stalenessSeconds": 30, "queries": queries(self.instance)}
        if history_seconds is not None:
            metrics["historySeconds"] = history_seconds
        if direct:
            metrics["directUrl"] = f"http://{self.instance}/metrics"
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PredictiveScaler",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {"targets": [{"name": "web", "service": "web", "minReplicas": 1,
                                      "maxReplicas": 30}],
                         "graph": {"inline": GRAPH_REAL}, "mode": mode, "paused": paused,
                         "periodSeconds": period,
                         "behavior": {"cooldownSeconds": cooldown, "maxStepDown": 0.5},
                         "policy": policy or {"type": "baseline", "baseline": "hpa"},
                         "events": list(events), "metrics": metrics}}
        return dict(self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body))

    def get_scaler(self, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace,
                                                             PLURAL, name))

    def create_web_hpa(self) -> None:
        """A CPU HPA on Deployment web, minReplicas 2: the floor the controller may raise."""
        hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "web"},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "name": "web"},
                        "minReplicas": 2, "maxReplicas": 20,
                        "targetCPUUtilizationPercentage": 70}}
        self.autoscaling.create_namespaced_horizontal_pod_autoscaler(self.namespace, hpa)

    def web_hpa(self) -> Any:
        return self.autoscaling.read_namespaced_horizontal_pod_autoscaler("web", self.namespace)

    def scaler_gone(self, name: str) -> bool:
        """True once the apiserver answers 404 for the PredictiveScaler (finalizer released);
        any other error counts as not gone yet, so a waiter asks again."""
        try:
            self.get_scaler(name)
        except ApiException as e:
            return e.status == 404
        return False

    def condition(self, name: str, kind: str) -> dict[str, Any] | None:
        status = self.get_scaler(name).get("status") or {}
        return next((c for c in status.get("conditions", []) if c["type"] == kind), None)

    def events(self) -> list[Any]:
        return list(self.core.list_namespaced_event(self.namespace).items)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def decisions(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def metric(port: int, name: str) -> float | None:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def sample_replicas(world: World, seconds: float, every: float = 0.5) -> list[int]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with suppress(Exception):  # the apiserver may be restarting
            out.append(world.replicas()[0])
        time.sleep(every)
    return out

"""The retail app (retail/) on the lab's real node: its manifests, deploying and scaling it,
recording replicas and CPU while it runs, the Prometheus job that scrapes it, and reads of the
replicas' own /metrics (what calibration measures). docs/controller.md, "The retail app".

Debian's Prometheus has no Kubernetes discovery: `PodTargets` writes the pods as file_sd
targets. There is no kube-proxy in the lab: the Services are headless and every caller (the app's
services in their Pods, the load generator on the host) reads the ready endpoints from the API
and balances over them itself (retail/balancer.py).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from bench.k8slab import REPO, wait_for
from retail.app import (
    CALL_TIMEOUT_SECONDS,
    DRAIN_SECONDS,
    REQUEST_DURATION,
    SERVICE_DURATION,
    WORK_DURATION,
)

NAMESPACE = "shop"
PORT = 8080
PART_OF = "edgewise-shop"
# SIGTERM drains (retail/app.py): the drain, then the slowest request in flight, then a margin
GRACE_SECONDS = int(DRAIN_SECONDS + CALL_TIMEOUT_SECONDS) + 3
KUBEPODS_CPU = Path("/sys/fs/cgroup/cpuacct/kubepods/cpuacct.usage")


@dataclass(frozen=True)
class ShopService:
    name: str
    cpu_ms: float
    startup_seconds: float
    calls: tuple[str, ...] = ()
    cpu_request_millicores: int = 200
    cpu_limit_millicores: int = 1000  # one interpreter (one GIL) uses at most one core


SHOP = (ShopService("frontend", 3.0, 6.0, ("checkout",)),
        ShopService("checkout", 12.0, 10.0, ("payment",)),
        ShopService("payment", 5.0, 8.0))


def built_image(variant: str = "base") -> tuple[str, Path]:
    """(name, oci-archive) from `scripts/build-image`: cached by content, built if missing."""
    script = str(REPO / "scripts/build-image")
    out = subprocess.run([script, "--variant", variant], check=True, capture_output=True,
                         text=True, timeout=1800)
    name = out.stdout.strip().splitlines()[-1]
    tarball = subprocess.run([script, "--variant", variant, "--print-tarball"], check=True,
                             capture_output=True, text=True).stdout.strip()
    return name, Path(tarball)


def _labels(s: ShopService) -> dict[str, str]:
    return {"app.kubernetes.io/name": s.name, "app.kubernetes.io/part-of": PART_OF}


def deployment(s: ShopService, image: str, namespace: str, seed: int) -> dict[str, Any]:
    args = ["shop", "serve", "--service", s.name, "--cpu-ms", str(s.cpu_ms),
            "--startup-seconds", str(s.startup_seconds), "--port", str(PORT),
            "--seed", str(seed), *[a for c in s.calls for a in ("--call", c)]]
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 1,
             "failureThreshold": 1, "successThreshold": 1, "timeoutSeconds": 2}
    container = {
        "name": "app", "image": image, "imagePullPolicy": "Never", "args": args,
        "ports": [{"name": "http", "containerPort": PORT}],
        "resources": {"requests": {"cpu": f"{s.cpu_request_millicores}m", "memory": "128Mi"},
                      "limits": {"cpu": f"{s.cpu_limit_millicores}m", "memory": "256Mi"}},
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                          "periodSeconds": 5, "failureThreshold": 6, "timeoutSeconds": 3},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": s.name, "namespace": namespace, "labels": _labels(s)},
            "spec": {"replicas": 1, "selector": {"matchLabels": _labels(s)},
                     "template": {"metadata": {"labels": _labels(s)}, "spec": {
                         "serviceAccountName": "shop", "containers": [container],
                         "terminationGracePeriodSeconds": GRACE_SECONDS}}}}


def manifests(services: tuple[ShopService, ...], image: str, namespace: str
              ) -> list[dict[str, Any]]:
    """ServiceAccount + Role (read endpoints: the callers balance themselves), and per service
    a headless Service and a Deployment with CPU requests and limits and a readiness probe."""
    meta = {"name": "shop", "namespace": namespace}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "shop"},
         "subjects": [{"kind": "ServiceAccount", "name": "shop", "namespace": namespace}]}]
    for k, s in enumerate(services):
        docs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": s.name, "namespace": namespace, "labels": _labels(s)},
                     "spec": {"clusterIP": "None", "selector": _labels(s),
                              "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]}})
        docs.append(deployment(s, image, namespace, seed=k + 1))
    return docs


def prometheus_job(targets_file: Path) -> dict[str, Any]:
    """The app's pods every second, from a file kept current by `PodTargets` (Debian's
    Prometheus is built without Kubernetes discovery); the app's own `service` label is kept."""
    return {"job_name": "shop", "scrape_interval": "1s", "honor_labels": True,
            "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "5s"}]}


def scaler_queries(namespace: str, window: str = "10s",
                   cpu_request_cores: float = 0.2) -> dict[str, str]:
    """The PredictiveScaler's metric queries over the app's histograms and process CPU."""
    sel = f'namespace="{namespace}",service="$service"'
    return {
        "rate": f"sum(rate({REQUEST_DURATION}_count{{{sel}}}[{window}]))",
        "latency": f"histogram_quantile(0.95, sum by (le) "
                   f"(rate({REQUEST_DURATION}_bucket{{{sel}}}[{window}])))",
        "cpu": f"sum(rate(process_cpu_seconds_total{{{sel}}}[{window}])) / "
               f"({cpu_request_cores} * count(process_cpu_seconds_total{{{sel}}}))"}


@dataclass
class PodTotals:
    """Sums over a service's replicas of what their /metrics say."""

    work_sum: float = 0.0
    work_count: float = 0.0
    service_sum: float = 0.0
    request_sum: float = 0.0
    request_count: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class Shop:
    api: client.ApiClient
    services: tuple[ShopService, ...]
    image: str
    namespace: str = NAMESPACE

    def __post_init__(self) -> None:
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)

    def deploy(self) -> None:
        try:
            self.core.create_namespace({"metadata": {"name": self.namespace}})
        except ApiException as e:
            if e.status != 409:
                raise
        create = {"ServiceAccount": self.core.create_namespaced_service_account,
                  "Service": self.core.create_namespaced_service,
                  "Deployment": self.apps.create_namespaced_deployment,
                  "Role": self.rbac.create_namespaced_role,
                  "RoleBinding": self.rbac.create_namespaced_role_binding}
        for doc in manifests(self.services, self.image, self.namespace):
            create[doc["kind"]](self.namespace, doc)

    def scale(self, service: str, replicas: int) -> float:
        """Set a Deployment's replicas; returns the time (epoch seconds) of the write."""
        at = time.time()
        self.apps.patch_namespaced_deployment_scale(service, self.namespace,
                                                    {"spec": {"replicas": replicas}})
        return at

    def ready_endpoints(self, service: str) -> list[str]:
        ep = self.core.read_namespaced_endpoints(service, self.namespace, _request_timeout=5)
        return sorted(f"{a.ip}:{PORT}" for s in ep.subsets or [] for a in s.addresses or [])

    def wait_ready(self, service: str, replicas: int, timeout: float = 120) -> None:
        wait_for(lambda: len(self.ready_endpoints(service)) >= replicas, timeout,
                 f"{replicas} ready {service} endpoint(s)", every=0.1)

    def pod_ips(self, service: str) -> list[str]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/name={service}").items
        return [p.status.pod_ip for p in pods if p.status.pod_ip and p.status.phase == "Running"
                and p.metadata.deletion_timestamp is None]

    def pod_count(self, service: str) -> int:
        """Pods of a service that exist, terminating ones included."""
        return len(self.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/name={service}").items)

    def totals(self, service: str) -> PodTotals:
        out = PodTotals()
        for ip in self.pod_ips(service):
            text = requests.get(f"http://{ip}:{PORT}/metrics", timeout=3).text
            for fam in text_string_to_metric_families(text):
                for s in fam.samples:
                    if s.name == f"{WORK_DURATION}_sum":
                        out.work_sum += s.value
                    elif s.name == f"{WORK_DURATION}_count":
                        out.work_count += s.value
                    elif s.name == f"{SERVICE_DURATION}_sum":
                        out.service_sum += s.value
                    elif s.name == f"{REQUEST_DURATION}_sum":
                        out.request_sum += s.value
                    elif s.name == f"{REQUEST_DURATION}_count":
                        out.request_count += s.value
                    elif s.name == "process_cpu_seconds_total":
                        out.cpu_seconds += s.value
        return out


@dataclass
class PodTargets:
    """Writes the app's running pods as Prometheus file_sd targets every `every_seconds`
    (what kubernetes_sd's pod role would find: pod IP and port, service, pod, namespace)."""

    shop: Shop
    path: Path
    every_seconds: float = 0.5
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def write(self) -> None:
        pods = self.shop.core.list_namespaced_pod(
            self.shop.namespace, label_selector=f"app.kubernetes.io/part-of={PART_OF}",
            _request_timeout=5).items
        groups = [{"targets": [f"{p.status.pod_ip}:{PORT}"],
                   "labels": {"service": p.metadata.labels["app.kubernetes.io/name"],
                              "pod": p.metadata.name, "namespace": self.shop.namespace}}
                  for p in pods if p.status.pod_ip and p.status.phase == "Running"]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(self.path)  # atomic: Prometheus never reads half a file

    def start(self) -> PodTargets:
        self.path.write_text("[]")
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_seconds):
            with suppress(Exception):  # the apiserver is slow or stopping: next time
                self.write()


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


@dataclass
class Recorder:
    """Samples every `every_seconds` on a thread: each service's ready endpoints, the machine's
    busy CPU share, the pods' CPU (cores, from the kubepods cgroup) and the load average."""

    shop: Shop
    every_seconds: float = 0.25
    ready: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    cpu: list[tuple[float, float, float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Recorder:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        last_cpu, last_pods, last_t = _cpu_busy(), _pods_cpu(), time.time()
        while not self._stop.wait(self.every_seconds):
            now = time.time()
            for s in self.shop.services:
                try:
                    n = len(self.shop.ready_endpoints(s.name))
                except Exception:  # noqa: BLE001 (the apiserver is slow or stopping: next sample)
                    continue
                self.ready.setdefault(s.name, []).append((now, n))
            if now - last_t >= 1.0:
                busy, pods = _cpu_busy(), _pods_cpu()
                share = (busy[0] - last_cpu[0]) / max(busy[1] - last_cpu[1], 1.0)
                cores = (pods - last_pods) / 1e9 / (now - last_t)
                load1 = float(Path("/proc/loadavg").read_text().split()[0])
                self.cpu.append((now, share, cores, load1))
                last_cpu, last_pods, last_t = busy, pods, now


def _pods_cpu() -> float:
    try:
        return float(KUBEPODS_CPU.read_text())
    except (OSError, ValueError):
        return 0.0

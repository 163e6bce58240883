"""The in-cluster path for real: the image from `scripts/build-image`, a node (containerd + runc,
CNI bridge, kubelet, kube-scheduler; bench/k8snode.py) joined to the lab's control plane, and
the controller installed by `kubectl apply -k deploy/`: two Pods from the image, their own
ServiceAccount and the shipped RBAC, the in-cluster config, Lease leader election, probes.
docs/controller.md ("A real node") says what the node needed."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bench.k8slab import REPO, ControlPlane, Prometheus, wait_for
from bench.k8snode import GATEWAY, NODE, Node
from bench.shop_experiment import SHORT, run
from bench.shoplab import SHOP, PodTargets, Shop, built_image, prometheus_job, scaler_queries
from controller.manifests import IMAGE_NAME, IMAGE_TAG, LEASE, NAME, NAMESPACE
from controller.spec import GROUP, PLURAL, VERSION
from retail.endpoints import ApiAccess
from tests.e2e.world import SPEED, World, rfc, scenario_yaml

pytestmark = pytest.mark.e2e
TOOLS = ("mmdebstrap", "buildah", "containerd", "runc", "ctr", "kubectl", "nft")


@pytest.fixture(scope="module")
def node(control_plane: ControlPlane, prometheus: Prometheus, replay_ports: list[int],
         e2e_dir: Path, kube: client.ApiClient) -> Iterator[Node]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0 or missing:
        pytest.skip(f"a real node needs root and {', '.join(missing) or 'root'} (scripts/setup)")
    pause, pause_tar = built_image("pause")
    _clear_earlier_worlds(kube)
    n = Node(e2e_dir / "node", control_plane, pause_tar, pause,
             host_ports=[prometheus.port, *replay_ports])
    try:
        n.start()
        _bind_node_role(kube)
        core = client.CoreV1Api(kube)
        wait_for(lambda: n.ready(core), 120, f"node {NODE} Ready")
        n.started_seconds = time.monotonic() - n.t0  # to Ready
        yield n
    finally:
        n.stop()


SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


def _clear_earlier_worlds(api: client.ApiClient) -> None:
    """The session's earlier worlds (PodReadier tests) leave Deployments, Pending Pods and
    scalers behind: with a node they would be scheduled (1 CPU each) and fill it. The lab has no
    garbage collector, so each kind is removed explicitly; finalizers are dropped (their
    controllers have stopped)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    for ns in core.list_namespace().items:
        name = ns.metadata.name
        if name in SYSTEM_NAMESPACES:
            continue
        with _absent_ok():
            for obj in custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)["items"]:
                scaler = obj["metadata"]["name"]
                custom.patch_namespaced_custom_object(GROUP, VERSION, name, PLURAL, scaler,
                                                      {"metadata": {"finalizers": []}})
                custom.delete_namespaced_custom_object(GROUP, VERSION, name, PLURAL, scaler)
        apps.delete_collection_namespaced_deployment(name)
        apps.delete_collection_namespaced_replica_set(name)
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)


@contextmanager
def _absent_ok() -> Iterator[None]:
    try:
        yield
    except ApiException as e:
        if e.status != 404:  # no CRD yet
            raise


def _bind_node_role(api: client.ApiClient) -> None:
    """The Node authorizer covers the kubelet's objects; token/access reviews (its webhook
    authentication) come from the `system:node` role."""
    body = {"metadata": {"name": "edgewise-lab-node"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:node"},
            "subjects": [{"kind": "User", "name": f"system:node:{NODE}",
                          "apiGroup": "rbac.authorization.k8s.io"}]}
    try:
        client.RbacAuthorizationV1Api(api).create_cluster_role_binding(body)
    except ApiException as e:
        if e.status != 409:
            raise


@pytest.fixture(scope="module")
def installed(node: Node, crd: client.ApiClient, control_plane: ControlPlane, e2e_dir: Path
              ) -> client.ApiClient:
    """`kubectl apply -k deploy/` after importing the image the kustomization names."""
    name, tarball = built_image("base")
    assert name == f"{IMAGE_NAME}:{IMAGE_TAG}"  # what deploy/'s kustomization maps to
    node.import_image(tarball)
    out = subprocess.run(["kubectl", "--kubeconfig", str(control_plane.kubeconfig), "apply",
                          "-k", str(REPO / "deploy")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    apps = client.AppsV1Api(crd)
    wait_for(lambda: (apps.read_namespaced_deployment(NAME, NAMESPACE).status.ready_replicas
                      or 0) == 2, 240, "2 controller Pods Ready")
    return crd


def _pods(api: client.ApiClient, namespace: str, app: str) -> list[Any]:
    return list(client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=f"app.kubernetes.io/name={app}").items)


def _holder(api: client.ApiClient) -> str:
    lease = client.CoordinationV1Api(api).read_namespaced_lease(LEASE, NAMESPACE)
    return str(lease.spec.holder_identity)


def test_node_ready_with_its_local_sandbox_image(node: Node, kube: client.ApiClient) -> None:
    obj = client.CoreV1Api(kube).read_node(NODE)
    assert any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions)
    images = {n for i in obj.status.images or [] for n in i.names or []}
    assert node.sandbox_image in images, images
    assert node.started_seconds < 120
    print(f"node Ready {node.started_seconds:.1f} s after start")


def test_controller_pods_from_deploy_run_with_one_leader(installed: client.ApiClient) -> None:
    pods = _pods(installed, NAMESPACE, NAME)
    running = [p for p in pods if p.status.phase == "Running"]
    assert len(running) == 2, [(p.metadata.name, p.status.phase) for p in pods]
    for p in running:
        assert p.spec.service_account_name == NAME
        assert p.spec.node_name == NODE
        [c] = p.spec.containers
        assert c.image == f"{IMAGE_NAME}:{IMAGE_TAG}"
        assert c.readiness_probe.http_get.path == "/readyz"
        assert p.status.container_statuses[0].ready
    wait_for(lambda: _holder(installed) in {p.metadata.name for p in running}, 60,
             "a controller Pod to hold the Lease")
    leaders = [p for p in running if _leader_gauge(p) == 1.0]
    assert [p.metadata.name for p in leaders] == [_holder(installed)]


def _leader_gauge(pod: Any) -> float | None:
    text = requests.get(f"http://{pod.status.pod_ip}:8080/metrics", timeout=3).text
    for line in text.splitlines():
        if line.startswith("edgewise_leader "):
            return float(line.split()[1])
    return None


def _app_deployment(w: World, image: str) -> None:
    """The scaled workload: real Pods from a local image, Ready 2 s after they start."""
    labels = {"app": "web"}
    container = {"name": "app", "image": image, "imagePullPolicy": "Never",
                 "resources": {"requests": {"cpu": "10m", "memory": "8Mi"},
                               "limits": {"cpu": "50m", "memory": "16Mi"}},
                 "readinessProbe": {"exec": {"command": ["/bin/busybox", "true"]},
                                    "initialDelaySeconds": 2, "periodSeconds": 1}}
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": w.namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "automountServiceAccountToken": False, "containers": [container],
                         "terminationGracePeriodSeconds": 0}}}}
    w.apps.create_namespaced_deployment(w.namespace, body)


@pytest.fixture(scope="module")
def shop(installed: client.ApiClient, node: Node, control_plane: ControlPlane,
         prometheus: Prometheus, replay_ports: list[int], e2e_dir: Path) -> Iterator[
             tuple[World, float]]:
    """A namespace scaled by the in-cluster controller: an event 40 simulated minutes out."""
    w = World(installed, control_plane.kubeconfig, e2e_dir / "realshop", "realshop",
              replay_ports.pop(), prometheus.url)
    _app_deployment(w, node.sandbox_image)
    anchor = time.time() + 2
    w.replay(scenario_yaml(w.workdir / "realshop.yaml", 40), anchor)
    w.wait_scraped()
    start = anchor + 40 * 60 / SPEED
    # The floor stays up for 3 minutes: the later tests (handover, finalizer) act inside it.
    event = {"name": "doorbuster", "start": rfc(start), "end": rfc(start + 180),
             "expectedUplift": 3.0, "leadSeconds": 20}
    # The Pods reach Prometheus and the replay through the bridge gateway (DNAT to loopback).
    w.scaler("shop", events=[event], period=2.0, cooldown=6,
             prometheus_url=f"http://{GATEWAY}:{prometheus.port}", direct=False)
    yield w, start
    w.stop()


def test_event_scales_real_pods_ready_before_it_starts(shop: tuple[World, float]) -> None:
    w, start = shop
    wait_for(lambda: w.replicas()[1] >= 6, max(5.0, start - time.time()),
             "6 Ready web Pods before the event")
    assert time.time() < start, "the Pods were Ready only after the event had started"
    status = w.get_scaler("shop")["status"]
    assert status["forecast"]["event"] == "doorbuster"
    pods = [p for p in w.core.list_namespaced_pod(w.namespace).items
            if p.status.phase == "Running"]
    assert len(pods) >= 6 and all(p.spec.node_name == NODE for p in pods)


def test_killing_the_leader_pod_hands_over_within_the_lease(
        shop: tuple[World, float], installed: client.ApiClient) -> None:
    w, _ = shop
    old = _holder(installed)
    before = w.get_scaler("shop")["status"]["lastDecision"]["time"]
    t0 = time.monotonic()
    client.CoreV1Api(installed).delete_namespaced_pod(old, NAMESPACE, grace_period_seconds=0)
    wait_for(lambda: _holder(installed) not in {old, "None"}, 30, "a new Lease holder")
    handover = time.monotonic() - t0
    assert handover <= 15 + 2, f"handover took {handover:.1f} s"  # leaseDuration + retry
    wait_for(lambda: w.get_scaler("shop")["status"]["lastDecision"]["time"] != before, 30,
             "the new leader to decide")
    names = [e.metadata.name for e in w.events()]
    assert len(names) == len(set(names)), "an action was recorded twice"
    print(f"leader handover in {handover:.1f} s")


def test_deleting_the_scaler_restores_the_hpa_floor_in_cluster(
        shop: tuple[World, float]) -> None:
    w, _ = shop
    w.create_web_hpa()

    wait_for(lambda: w.web_hpa().spec.min_replicas > 2, 60, "the controller to raise the floor")
    w.custom.delete_namespaced_custom_object(GROUP, VERSION, w.namespace, PLURAL, "shop")

    wait_for(lambda: w.scaler_gone("shop"), 60,
             "the PredictiveScaler to disappear (finalizer released)")
    assert w.web_hpa().spec.min_replicas == 2
    # Everything above went through the shipped RBAC: not one request was refused.
    logs = _controller_logs()
    assert logs and not any("HTTP 403" in text for text in logs.values()), logs


def _controller_logs() -> dict[str, str]:
    """The controller containers' logs as the kubelet wrote them (every restart's file)."""
    pods = Path("/var/log/pods")
    return {str(f): f.read_text() for f in pods.glob(f"{NAMESPACE}_{NAME}-*/controller/*.log")}




@pytest.fixture(scope="module")
def retail_shop(installed: client.ApiClient, prometheus: Prometheus, e2e_dir: Path
                ) -> Iterator[Shop]:
    """The retail app from the same image (`edgewise shop serve`), its pods scraped by the
    session's Prometheus (file_sd targets kept current from the API)."""
    shop = Shop(installed, SHOP, f"{IMAGE_NAME}:{IMAGE_TAG}")
    shop.deploy()
    targets = PodTargets(shop, e2e_dir / "shop-targets.json").start()
    prometheus.add_jobs([prometheus_job(targets.path)])
    try:
        for s in SHOP:
            shop.wait_ready(s.name, 1, timeout=240)
        yield shop
    finally:
        targets.stop()


def _shop_scaler(w_api: client.ApiClient, prometheus: Prometheus) -> None:
    graph = {"name": "shop", "entry": "frontend",
             "services": {s.name: {"capacity_rps": 1000.0 / s.cpu_ms, "startup_seconds":
                                   s.startup_seconds, "cpu_request_millicores":
                                   s.cpu_request_millicores} for s in SHOP},
             "calls": [{"from": s.name, "to": c} for s in SHOP for c in s.calls]}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PredictiveScaler",
            "metadata": {"name": "retail", "namespace": "shop"},
            "spec": {"targets": [{"name": "checkout", "service": "checkout", "minReplicas": 1,
                                  "maxReplicas": 3}],
                     "graph": {"inline": graph}, "mode": "Shadow", "periodSeconds": 2.0,
                     "policy": {"type": "baseline", "baseline": "hpa"},
                     "metrics": {"prometheusUrl": f"http://{GATEWAY}:{prometheus.port}",
                                 "stalenessSeconds": 30, "queries": scaler_queries("shop")}}}
    client.CustomObjectsApi(w_api).create_namespaced_custom_object(GROUP, VERSION, "shop",
                                                                   PLURAL, body)


def _watch_scaler(api: client.ApiClient, seen: list[dict[str, Any]],
                  stop: threading.Event) -> None:
    custom = client.CustomObjectsApi(api)
    while not stop.wait(2):
        try:
            obj = custom.get_namespaced_custom_object(GROUP, VERSION, "shop", PLURAL, "retail")
        except ApiException:
            continue
        seen.append(obj.get("status") or {})


def _histogram_series(prometheus: Prometheus) -> dict[str, int]:
    r = requests.get(f"{prometheus.url}/api/v1/query", timeout=5, params={
        "query": 'count by (service) '
                 '(edgewise_shop_request_duration_seconds_bucket{namespace="shop"})'})
    return {x["metric"]["service"]: int(x["value"][1]) for x in r.json()["data"]["result"]}


def test_retail_app_under_open_loop_load_against_the_twin(
        retail_shop: Shop, installed: client.ApiClient, control_plane: ControlPlane,
        prometheus: Prometheus) -> None:
    _shop_scaler(installed, prometheus)
    seen: list[dict[str, Any]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_scaler, args=(installed, seen, stop), daemon=True)
    watcher.start()
    try:
        res = run(retail_shop, ApiAccess(control_plane.url, control_plane.token, None), SHORT)
    finally:
        stop.set()
        watcher.join(5)
    # the app drains on SIGTERM (retail/app.py): the scale-down of checkout loses no request
    assert res["sent"] > 500 and res["failed"] == 0, res["failed"]
    # Prometheus scraped every service's request histogram ...
    series = _histogram_series(prometheus)
    assert set(series) == {s.name for s in SHOP} and min(series.values()) >= 50, series
    # ... and the in-cluster controller read them (queries on the app's histograms and process
    # CPU): its metrics were valid, and in Shadow the HPA rule wanted more checkout replicas at
    # the sale's peak than the one it had
    conditions = [c for st in seen for c in st.get("conditions", [])]
    assert any(c["reason"] == "ValidMetricsFound" and c["status"] == "True"
               for c in conditions), seen[-1:]
    assert max(st.get("desiredReplicas", 0) for st in seen) >= 2, seen[-1:]
    fallback = [c for st in seen[-3:] for c in st.get("conditions", [])
                if c["type"] == "Fallback" and c["status"] == "True"]
    assert not fallback, fallback
    # the comparison is finite (the targets are the bench's: bench/sim_to_real.py)
    for key in ("p95_error_median", "p95_error_p90", "ready_delay_error_seconds", "rps_max"):
        assert math.isfinite(res[key]), (key, res[key])
    assert len(res["minutes"]) == 3 and res["ready_delays"]
    print(f"sim-to-real (short): median {res['p95_error_median']:.2f}, p90 "
          f"{res['p95_error_p90']:.2f}, ready delay error {res['ready_delay_error_seconds']} s, "
          f"rps_max {res['rps_max']}, minutes {res['minutes']}")

"""The controller against real parts: etcd, kube-apiserver, kube-controller-manager, Prometheus
scraping `edgewise replay`. Time is compressed: one simulated minute per second, a 2 s period."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bench.k8slab import Prometheus, wait_for
from controller.manifests import all_objects
from controller.spec import GROUP, PLURAL, VERSION
from tests.e2e.world import SPEED, World, decisions, metric, rfc, sample_replicas, scenario_yaml

pytestmark = pytest.mark.e2e
PERIOD = 2.0


def _event(anchor: float, at_minutes: float, uplift: float = 3.0) -> dict[str, Any]:
    start = anchor + at_minutes * 60 / SPEED
    return {"name": "doorbuster", "start": rfc(start), "end": rfc(start + 21 * 60 / SPEED),
            "expectedUplift": uplift, "leadSeconds": 12}


def _steady_world(make_world: Any, ns: str, replicas: int = 3, event_at: float | None = None
                  ) -> tuple[World, float]:
    w: World = make_world(ns)
    w.deployment("web", replicas)
    anchor = time.time() + 2
    w.replay(scenario_yaml(w.workdir / f"{ns}.yaml", event_at), anchor)
    w.wait_scraped()
    return w, anchor


def test_crd_installs_and_rejects_invalid_spec_naming_the_field(crd: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(crd)
    bad = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PredictiveScaler",
           "metadata": {"name": "bad"},
           "spec": {"targets": [{"name": "web", "service": "web", "minReplicas": -1}],
                    "graph": {"inline": {}}, "mode": "Sometimes"}}
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    assert e.value.status == 422
    assert "spec.mode" in e.value.body and "minReplicas" in e.value.body
    no_graph = {**bad, "spec": {"targets": [{"name": "web", "service": "web"}]}}
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, no_graph)
    assert "spec.graph" in e.value.body


def test_deploy_manifests_pass_server_side_dry_run(crd: client.ApiClient) -> None:
    from kubernetes import utils

    for obj in all_objects():
        if obj["kind"] == "CustomResourceDefinition":
            continue  # installed by the fixture: the same object
        if obj["kind"] == "Namespace":
            client.CoreV1Api(crd).create_namespace(obj)
            continue
        utils.create_from_dict(crd, obj, dry_run="All")


def test_event_prescale_then_scale_down(make_world: Any) -> None:
    w, anchor = _steady_world(make_world, "event", replicas=3, event_at=50)
    w.scaler("shop", events=[_event(anchor, 50)], period=PERIOD, cooldown=6)
    event_start = anchor + 50 * 60 / SPEED
    ctl, port, log = w.controller("c1")
    wait_for(lambda: time.time() > event_start - 1, 120, "the event")
    before = w.replicas()[0]
    assert before >= 8, f"not scaled up before the event: {before} replicas"
    status = w.get_scaler("shop")["status"]
    assert status["lastDecision"]["reason"] in {"EventPrescale", "NoChange"}
    assert status["forecast"]["event"] == "doorbuster"
    reasons = {e.reason for e in w.events()}
    assert "EventPrescale" in reasons
    wait_for(lambda: w.replicas()[0] <= 4, 90, "the scale-down after the event", every=1)
    assert "ScaleDown" in {e.reason for e in w.events()} | {
        d["reason"] for d in decisions(log)}
    assert ctl.alive()


def test_shadow_mode_changes_nothing_and_records_every_decision(make_world: Any) -> None:
    w, _ = _steady_world(make_world, "shadow", replicas=8)
    w.scaler("shop", mode="Shadow", period=PERIOD, cooldown=2)
    ctl, port, log = w.controller("c1")
    seen = sample_replicas(w, 16)
    assert set(seen) == {8}
    recorded = decisions(log)
    assert len(recorded) >= 5 and all(not d["acted"] for d in recorded)
    assert any(t["desiredReplicas"] < 8 for d in recorded for t in d["targets"])
    status = w.get_scaler("shop")["status"]
    assert status["decisions"] >= len(recorded) - 1
    ready = w.condition("shop", "Ready")
    assert ready and ready["reason"] == "ShadowMode"
    took = _change_mode(w, "shop", "Off")
    # The watch delivers the new generation and the controller reconciles it at once, not at
    # the scaler's next period.
    assert took <= PERIOD / 2, f"the spec change took {took:.2f}s to reach status"
    off = w.condition("shop", "Ready")
    assert off and off["reason"] == "ModeOff"


def test_paused_holds_replicas_until_resumed(make_world: Any) -> None:
    w, _ = _steady_world(make_world, "paused", replicas=8)  # Active would scale down (shadow)
    w.scaler("shop", paused=True, period=PERIOD, cooldown=2)
    ctl, port, log = w.controller("c1")
    wait_for(lambda: (w.condition("shop", "Ready") or {}).get("reason") == "Paused", 30,
             "status to say Paused")
    assert set(sample_replicas(w, 8)) == {8} and decisions(log) == []
    assert (w.condition("shop", "ScalingActive") or {}).get("status") == "False"
    w.custom.patch_namespaced_custom_object(GROUP, VERSION, w.namespace, PLURAL, "shop",
                                            {"spec": {"paused": False}})
    wait_for(lambda: w.replicas()[0] < 8, 60, "the scale-down once resumed", every=0.5)
    assert decisions(log) and ctl.alive()


def _change_mode(w: World, name: str, mode: str) -> float:
    """Patch spec.mode; seconds until status.observedGeneration shows the new generation."""
    generation = w.get_scaler(name)["metadata"]["generation"]
    w.custom.patch_namespaced_custom_object(GROUP, VERSION, w.namespace, PLURAL, name,
                                            {"spec": {"mode": mode}})
    changed = time.monotonic()
    wait_for(lambda: (w.get_scaler(name).get("status") or {}).get("observedGeneration")
             == generation + 1, 15, f"status to show mode {mode}", every=0.05)
    return time.monotonic() - changed


def test_prometheus_down_falls_back_and_recovers(make_world: Any, e2e_dir: Path,
                                                 replay_ports: list[int]) -> None:
    w: World = make_world("promdown")
    prom = Prometheus(e2e_dir / "prom-own", [w.instance]).start()
    try:
        w.prometheus_url = prom.url
        w.deployment("web", 3)
        w.replay(scenario_yaml(w.workdir / "promdown.yaml", None), time.time() + 1)
        w.wait_scraped()
        w.scaler("shop", period=PERIOD, cooldown=4)
        ctl, port, log = w.controller("c1")
        wait_for(lambda: (w.condition("shop", "Fallback") or {}).get("status") == "False", 30,
                 "Fallback=False")
        prom.stop()
        stopped = time.monotonic()
        wait_for(lambda: (w.condition("shop", "Fallback") or {}).get("status") == "True",
                 4 * PERIOD, "Fallback=True")
        took = time.monotonic() - stopped
        cond = w.condition("shop", "Fallback")
        assert cond and cond["reason"] == "PrometheusUnavailable", cond
        assert took <= 2 * PERIOD + 1.5, f"Fallback took {took:.1f}s"
        assert metric(port, "edgewise_fallback_active") == 1.0
        # The reactive rule still scales: over-provision by hand, watch it come back down.
        client.AppsV1Api(w.api).patch_namespaced_deployment_scale(
            "web", w.namespace, {"spec": {"replicas": 9}})
        wait_for(lambda: w.replicas()[0] <= 4, 40, "reactive scale-down in fallback", every=1)
        assert any(d["reason"] == "FallbackReactive" and d["acted"] for d in decisions(log))
        prom.start()
        wait_for(lambda: (w.condition("shop", "Fallback") or {}).get("status") == "False", 40,
                 "Fallback to clear")
        assert ctl.alive()
    finally:
        prom.stop()


def test_apiserver_restart_reconnects_without_duplicates(make_world: Any, control_plane: Any
                                                         ) -> None:
    w, _ = _steady_world(make_world, "apirestart", replicas=3)
    w.scaler("shop", period=PERIOD)
    ctl, port, log = w.controller("c1")
    wait_for(lambda: len(decisions(log)) >= 3, 30, "decisions")
    # the SLO floor at 20 rps: 4 (3 replicas of 10 rps miss the 400 ms p95 in the M/M/c model)
    wait_for(lambda: w.replicas()[0] == 4, 30, "the SLO floor's 4 replicas")
    control_plane.restart_apiserver()
    n = len(decisions(log))
    wait_for(lambda: len(decisions(log)) >= n + 3, 60, "decisions after the restart")
    assert ctl.alive()
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
    names = [e.metadata.name for e in w.events()]
    assert len(names) == len(set(names))
    acted_periods = [d["period"] for d in decisions(log)]
    assert len(acted_periods) == len(set(acted_periods)), "a period was decided twice"
    assert w.replicas()[0] == 4
    # The scaler cache re-watched (or re-listed) after the restart and still follows changes.
    assert (metric(port, "edgewise_watch_restarts_total") or 0) >= 1
    _change_mode(w, "shop", "Shadow")
    ready = w.condition("shop", "Ready")
    assert ready and ready["reason"] == "ShadowMode"


def test_only_the_lease_holder_acts_and_the_other_takes_over(make_world: Any) -> None:
    w, _ = _steady_world(make_world, "leader", replicas=3)
    w.scaler("shop", period=PERIOD)
    a, port_a, log_a = w.controller("a", lease="shared")
    time.sleep(3)
    b, port_b, log_b = w.controller("b", lease="shared")
    time.sleep(6)
    assert metric(port_a, "edgewise_leader") == 1.0
    assert metric(port_b, "edgewise_leader") == 0.0
    assert decisions(log_a) and not decisions(log_b)
    a.stop(signal.SIGKILL)
    wait_for(lambda: len(decisions(log_b)) >= 2, 30, "b to take over")
    assert metric(port_b, "edgewise_leader") == 1.0


def test_corrupt_model_falls_back_with_a_clear_reason(make_world: Any) -> None:
    w, _ = _steady_world(make_world, "model", replicas=3)
    from scaler.learned.runtime import default_model_dir

    model = w.workdir / "policy"
    shutil.copytree(default_model_dir(), model)  # a real export whose weights then rot
    (model / "model.zip").write_bytes(b"\x00not a zip at all\xff" * 64)
    w.scaler("shop", period=PERIOD, policy={"type": "rl", "model": {"path": str(model)}})
    ctl, port, log = w.controller("c1")
    wait_for(lambda: (w.condition("shop", "Fallback") or {}).get("status") == "True", 20,
             "Fallback=True")
    cond = w.condition("shop", "Fallback")
    assert cond is not None and cond["reason"] == "ModelLoadFailed"
    assert "model.zip does not match its" in cond["message"]
    n = len(decisions(log))
    time.sleep(3 * PERIOD)
    assert len(decisions(log)) > n and ctl.alive()


def test_hpa_floor_instead_of_fighting(make_world: Any) -> None:
    w, anchor = _steady_world(make_world, "hpa", replicas=2, event_at=30)
    w.create_web_hpa()
    w.scaler("shop", events=[_event(anchor, 30)], period=PERIOD, cooldown=4)
    ctl, port, log = w.controller("c1")
    series = sample_replicas(w, max(5.0, anchor + 30 + 25 - time.time()))
    h = w.web_hpa()
    assert h.metadata.annotations["edgewise.io/original-min-replicas"] == "2"
    assert max(series) >= 8, series
    assert all(d["targets"][0]["actuation"] == "HpaMinReplicas" for d in decisions(log))
    changes = [b - a for a, b in zip(series, series[1:], strict=False) if b != a]
    reversals = sum(1 for x, y in zip(changes, changes[1:], strict=False) if (x > 0) != (y > 0))
    assert reversals <= 1, f"replica count oscillated: {series}"


def test_deleting_the_scaler_restores_the_hpa_floor(make_world: Any) -> None:
    w, anchor = _steady_world(make_world, "finalizer", replicas=2, event_at=20)
    w.create_web_hpa()
    w.scaler("shop", events=[_event(anchor, 20)], period=PERIOD, cooldown=4)
    ctl, port, log = w.controller("c1")

    wait_for(lambda: w.web_hpa().spec.min_replicas > 2, 60, "the event to raise the HPA floor")
    assert w.get_scaler("shop")["metadata"]["finalizers"] == ["edgewise.io/restore-hpa"]
    assert w.web_hpa().metadata.annotations["edgewise.io/raised-by"] == "shop"
    w.custom.delete_namespaced_custom_object(GROUP, VERSION, w.namespace, PLURAL, "shop")

    wait_for(lambda: w.scaler_gone("shop"), 30, "the PredictiveScaler to disappear")
    h = w.web_hpa()
    assert h.spec.min_replicas == 2
    annotations = h.metadata.annotations or {}
    assert "edgewise.io/original-min-replicas" not in annotations
    assert "edgewise.io/raised-by" not in annotations
    assert "HpaRestored" in {e.reason for e in w.events()}
    assert ctl.alive()

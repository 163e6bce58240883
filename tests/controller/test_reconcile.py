"""The reconcile loop over in-memory ports (fakes at the protocol boundary, as the twin's
in-memory metrics source): modes, fallback reasons, HPA floor, status and Events."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import numpy as np
import pytest

from controller.actuation import ActuationKind, HpaView
from controller.finalizer import FINALIZER
from controller.reconcile import Reconciler
from tests.support.fakes import T0, Clock, MemoryCluster, MemoryMetrics, Sink, daily

GRAPH = {"entry": "web", "services": {"web": {"capacity_rps": 10, "startup_seconds": 1}}}


def obj(**spec: Any) -> dict[str, Any]:
    base = {"targets": [{"name": "web", "service": "web", "maxReplicas": 30}],
            "graph": {"inline": GRAPH}, "periodSeconds": 2,
            "behavior": {"cooldownSeconds": 4}, "metrics": {"prometheusUrl": "http://p:9090"}}
    return {"metadata": {"name": "shop", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": {**base, **spec}}


def world(replicas: int, rate: float, cpu: float, hpa: HpaView | None = None
          ) -> tuple[Reconciler, MemoryCluster, MemoryMetrics, Sink, Clock]:
    clock = Clock()
    cluster, metrics, sink = MemoryCluster(replicas, hpa), MemoryMetrics(rate, cpu, clock), Sink()
    direct = MemoryMetrics(rate, cpu, clock)
    r = Reconciler(cluster, lambda url: metrics, lambda url: direct, sink, clock)
    return r, cluster, metrics, sink, clock


def run(r: Reconciler, clock: Clock, o: dict[str, Any], periods: int) -> None:
    for _ in range(periods):
        r.reconcile(o)
        clock.now += timedelta(seconds=2)


def cond(cluster: MemoryCluster, kind: str) -> dict[str, Any]:
    return next(c for c in cluster.status["conditions"] if c["type"] == kind)


def test_event_prescale_before_start() -> None:
    r, cluster, _, sink, clock = world(3, 20.0, 0.6)
    start = T0 + timedelta(seconds=20)
    ev = {"name": "sale", "start": start.isoformat() + "Z",
          "end": (start + timedelta(seconds=30)).isoformat() + "Z", "expectedUplift": 3}
    o = obj(events=[ev])
    run(r, clock, o, 10)  # until T0 + 20 s: the lead window (1 s start-up + 2 periods) is open
    assert cluster.replicas == 9
    assert any(reason == "EventPrescale" for reason, _ in cluster.events.values())
    assert cluster.status["forecast"]["event"] == "sale"


def test_shadow_acts_on_nothing_but_records() -> None:
    r, cluster, _, sink, clock = world(9, 20.0, 0.2)
    run(r, clock, obj(mode="Shadow"), 6)
    assert cluster.actions == [] and cluster.replicas == 9
    assert len(sink.decisions) == 6 and not any(d.acted for d in sink.decisions)
    assert cluster.status["decisions"] == 6
    assert cond(cluster, "Ready")["reason"] == "ShadowMode"


def test_mode_off_decides_nothing() -> None:
    r, cluster, _, sink, clock = world(9, 20.0, 0.2)
    run(r, clock, obj(mode="Off"), 3)
    assert sink.decisions == [] and cluster.actions == []
    assert cond(cluster, "ScalingActive")["status"] == "False"


def test_paused_holds_replicas_keeps_the_floor_and_resumes() -> None:
    r, cluster, _, sink, clock = world(2, 60.0, 1.0, HpaView("web", 2, 20, None, "Deployment/web"))
    run(r, clock, obj(), 1)
    raised, n = cluster.hpa, len(sink.decisions)
    assert raised is not None and raised.min_replicas > 2
    paused = obj(paused=True)
    paused["metadata"] = {**paused["metadata"], "generation": 2, "finalizers": [FINALIZER]}
    run(r, clock, paused, 4)
    assert len(sink.decisions) == n and cluster.hpa == raised  # nothing decided, floor kept
    assert cluster.finalizers == [FINALIZER]
    assert cond(cluster, "Ready")["reason"] == "Paused"
    assert cond(cluster, "ScalingActive")["status"] == "False"
    resumed = obj(paused=False)
    resumed["metadata"] = {**resumed["metadata"], "generation": 3, "finalizers": [FINALIZER]}
    run(r, clock, resumed, 2)
    assert len(sink.decisions) == n + 2
    assert cond(cluster, "ScalingActive")["status"] == "True"


@pytest.mark.parametrize(("rate", "cpu", "down", "reason"), [
    (None, 0.5, False, "SeriesMissing"),
    (float("nan"), 0.5, False, "SeriesNaN"),
    (20.0, 0.5, True, "PrometheusUnavailable"),
])
def test_fallback_reasons(rate: float | None, cpu: float, down: bool, reason: str) -> None:
    r, cluster, metrics, sink, clock = world(3, 20.0, cpu)
    metrics.rate, metrics.down = rate, down
    run(r, clock, obj(metrics={"prometheusUrl": "http://p", "directUrl": "http://d"}), 2)
    c = cond(cluster, "Fallback")
    assert c["status"] == "True" and c["reason"] == reason
    assert sink.fallbacks[-1] == reason and sink.decisions[-1].reason.value == "FallbackReactive"


def test_fallback_without_direct_source_holds_replicas() -> None:
    r, cluster, metrics, sink, clock = world(3, 20.0, 0.9)
    metrics.down = True
    run(r, clock, obj(), 3)
    assert cluster.actions == [] and cond(cluster, "ScalingActive")["status"] == "False"
    assert cond(cluster, "Fallback")["status"] == "True"


def test_fallback_clears_when_prometheus_returns() -> None:
    r, cluster, metrics, sink, clock = world(3, 20.0, 0.6)
    o = obj(metrics={"prometheusUrl": "http://p", "directUrl": "http://d"})
    metrics.down = True
    run(r, clock, o, 2)
    metrics.down = False
    run(r, clock, o, 1)
    assert cond(cluster, "Fallback")["status"] == "False"
    reasons = [reason for reason, _ in cluster.events.values()]
    assert reasons.count("FallbackActivated") == 1 and reasons.count("FallbackCleared") == 1


def test_corrupt_model_falls_back(tmp_path: Any) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "model.zip").write_bytes(b"garbage")  # an export without its manifest
    r, cluster, _, sink, clock = world(3, 20.0, 0.6)
    run(r, clock, obj(policy={"type": "rl", "model": {"path": str(model)}}), 2)
    c = cond(cluster, "Fallback")
    assert c["reason"] == "ModelLoadFailed" and "no manifest.json" in c["message"]
    assert len(sink.decisions) == 2


def test_unsigned_model_with_a_trusted_key_falls_back_and_says_why(tmp_path: Any) -> None:
    from dataclasses import replace

    from scaler.learned.signature import load_public_key, write_keypair

    write_keypair(tmp_path / "k.key", tmp_path / "k.pub")
    r, cluster, _, sink, clock = world(3, 20.0, 0.6)
    r = replace(r, trusted_model_keys=(load_public_key(tmp_path / "k.pub"),))
    run(r, clock, obj(policy={"type": "rl", "model": {"path": "default"}}), 2)
    c = cond(cluster, "Fallback")
    assert c["status"] == "True" and c["reason"] == "ModelLoadFailed"
    assert "is not signed" in c["message"] and "default-policy" in c["message"]
    assert len(sink.decisions) == 2  # the reactive rule decided


def test_hpa_target_gets_its_floor_raised_not_its_scale() -> None:
    r, cluster, _, sink, clock = world(2, 60.0, 1.0, HpaView("web", 2, 20, None, "Deployment/web"))
    run(r, clock, obj(), 1)
    [a] = cluster.actions
    assert a.kind is ActuationKind.HPA_MIN and a.hpa == "web" and a.record_original_min == 2
    assert a.replicas > 2


def test_invalid_spec_sets_ready_false_with_field() -> None:
    r, cluster, _, sink, clock = world(3, 20.0, 0.6)
    o = obj(targets=[{"name": "web", "service": "nope"}])
    r.reconcile(o)
    c = cond(cluster, "Ready")
    assert c["status"] == "False" and c["reason"] == "InvalidSpec"
    assert "spec.targets[0].service" in c["message"]


def test_event_names_are_stable_per_period() -> None:
    """A retry of the same period (after an apiserver reconnect) reuses the Event name."""
    r, cluster, _, sink, clock = world(9, 20.0, 0.1)
    o = obj(behavior={"cooldownSeconds": 0})
    r.reconcile(o)
    cluster.replicas = 9  # the write was lost; same period again
    r.reconcile(o)
    assert len(cluster.events) == 1


HOLT_WINTERS = {"policy": {"type": "baseline", "baseline": "holt-winters"}, "periodSeconds": 60}


def test_short_history_falls_back_then_loads_again_later() -> None:
    """2 days of data, holt-winters needs 2 weeks: the reactive rule decides, the reason says
    how much there is; an hour later, with two weeks in Prometheus, the policy takes over."""
    r, cluster, metrics, sink, clock = world(3, 30.0, 0.6)
    metrics.history_days = 2
    run(r, clock, obj(**HOLT_WINTERS), 2)
    c = cond(cluster, "Fallback")
    assert c["status"] == "True" and c["reason"] == "InsufficientHistory"
    assert "has 48.0 h" in c["message"] and "needs 336.0 h" in c["message"]
    assert sink.decisions[-1].reason.value == "FallbackReactive"
    assert metrics.range_queries == 2  # 20,160 one-minute ticks: two windows, loaded once
    metrics.history_days = 15
    clock.now += timedelta(seconds=r.history_retry_seconds)
    run(r, clock, obj(**HOLT_WINTERS), 1)
    assert cond(cluster, "Fallback")["status"] == "False"
    forecast = cluster.status["forecast"]
    ahead = [daily(clock.now.replace(tzinfo=UTC).timestamp() - 2 + k * 60) for k in range(1, 3)]
    assert forecast["expectedPeakRps"] == pytest.approx(max(ahead), rel=0.25)
    assert forecast["horizonSeconds"] == 120


def test_prometheus_down_while_loading_history_falls_back_and_retries() -> None:
    r, cluster, metrics, sink, clock = world(3, 30.0, 0.6)
    metrics.history_days, metrics.down = 15, True
    o = obj(**HOLT_WINTERS, metrics={"prometheusUrl": "http://p", "directUrl": "http://d"})
    run(r, clock, o, 1)
    assert cond(cluster, "Fallback")["reason"] == "PrometheusUnavailable"
    metrics.down = False
    run(r, clock, o, 1)  # live samples are back, the history is not loaded yet
    c = cond(cluster, "Fallback")
    assert c["reason"] == "HistoryUnavailable" and "connection refused" in c["message"]
    clock.now += timedelta(seconds=r.unavailable_retry_seconds)
    run(r, clock, o, 1)
    assert cond(cluster, "Fallback")["status"] == "False"


def test_policies_without_history_query_no_range() -> None:
    r, cluster, metrics, sink, clock = world(3, 20.0, 0.6)
    run(r, clock, obj(), 2)
    assert metrics.range_queries == 0


def test_active_scaler_gets_the_finalizer_and_deletion_restores_the_hpa() -> None:
    r, cluster, _, sink, clock = world(2, 60.0, 1.0, HpaView("web", 2, 20, None, "Deployment/web"))
    o = obj()
    run(r, clock, o, 1)
    assert cluster.finalizers == [FINALIZER]
    assert cluster.hpa is not None and cluster.hpa.min_replicas > 2 and cluster.owner == "shop"
    deleted = {**o, "metadata": {**o["metadata"], "deletionTimestamp": "2026-11-27T10:00:10Z",
                                 "finalizers": [FINALIZER]}}
    n = len(sink.decisions)
    r.reconcile(deleted)
    assert cluster.hpa == HpaView("web", 2, 20, None, "Deployment/web") and cluster.owner is None
    assert cluster.finalizers == [] and len(sink.decisions) == n
    assert any(reason == "HpaRestored" for reason, _ in cluster.events.values())


def test_mode_off_restores_the_hpa_and_releases_the_finalizer() -> None:
    r, cluster, _, sink, clock = world(2, 60.0, 1.0, HpaView("web", 2, 20, None, "Deployment/web"))
    run(r, clock, obj(), 1)
    off = obj(mode="Off")
    off["metadata"] = {**off["metadata"], "generation": 2, "finalizers": [FINALIZER]}
    r.reconcile(off)
    assert cluster.hpa == HpaView("web", 2, 20, None, "Deployment/web") and cluster.finalizers == []


def test_a_target_dropped_from_the_spec_gives_its_hpa_back() -> None:
    r, cluster, _, sink, clock = world(2, 60.0, 1.0, HpaView("web", 2, 20, None, "Deployment/web"))
    run(r, clock, obj(), 1)
    assert cluster.hpa is not None and cluster.hpa.min_replicas > 2 and cluster.owner == "shop"
    moved = obj(targets=[{"name": "web-v2", "service": "web", "maxReplicas": 30}])
    moved["metadata"] = {**moved["metadata"], "generation": 2, "finalizers": [FINALIZER]}
    r.reconcile(moved)
    assert cluster.hpa == HpaView("web", 2, 20, None, "Deployment/web") and cluster.owner is None
    assert any("no longer a target" in message for _, message in cluster.events.values())
    n = len(cluster.events)
    r.reconcile(moved)  # checked once per spec: no more restores or Events
    assert len(cluster.events) == n


def test_day_ahead_quantiles_from_the_loaded_history_in_status_and_to_the_sink() -> None:
    """15 days of history: today's forecast, issued from the ticks before 00:00, is the same
    hour a week earlier (the daily cycle: the value at the same time of day); 2 days: none."""
    r, cluster, metrics, sink, clock = world(3, 30.0, 0.6)
    metrics.history_days = 15
    run(r, clock, obj(**HOLT_WINTERS), 1)
    forecast = cluster.status["forecast"]
    now = clock.now - timedelta(seconds=2)
    hour = now.replace(minute=0, second=0).replace(tzinfo=UTC).timestamp()
    week_before = np.mean([daily(hour - 7 * 86_400 + 60 * k) for k in range(60)])
    assert forecast["dayAheadP50Rps"] == pytest.approx(week_before, rel=1e-3)
    assert forecast["dayAheadP90Rps"] >= forecast["dayAheadP50Rps"]
    day_ahead = sink.decisions[-1].forecast.day_ahead  # type: ignore[union-attr]
    assert day_ahead is not None and day_ahead.service == "web"

    r, cluster, metrics, sink, clock = world(3, 30.0, 0.6)
    metrics.history_days = 2
    run(r, clock, obj(**HOLT_WINTERS), 1)
    assert "dayAheadP50Rps" not in cluster.status["forecast"]
    assert sink.decisions[-1].forecast.day_ahead is None  # type: ignore[union-attr]

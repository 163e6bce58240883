"""Table-driven tests of the controller's pure core: spec, conditions, actuation, leader election,
observation mapping, event prescale, decision reasons."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from controller.actuation import (
    ActuationKind,
    HpaView,
    hpa_floor,
    hpa_for,
    plan_action,
    workload_key,
)
from controller.conditions import Condition, ConditionType, Reason, merge_conditions
from controller.decision import DecisionReason, decision_reason
from controller.finalizer import (
    FINALIZER,
    Restore,
    Step,
    finalizer_step,
    orphaned,
    raised_by,
    restores,
    without,
)
from controller.leader import LeaderConfig, LeaderElector, LeaseRecord
from controller.observe import (
    MetricKind,
    Sample,
    SampleProblem,
    WorkloadState,
    build_observation,
    check_sample,
    first_bad,
)
from controller.spec import Mode, check_against_graph, parse_spec
from envs.graph import parse_graph
from scaler.errors import InvalidSpecError
from scaler.policy import utilisation_replicas
from scaler.prescale import PlannedEvent

T0 = datetime(2026, 11, 27, 10, 0, 0)
GRAPH = parse_graph({"entry": "web", "services": {
    "web": {"capacity_rps": 10, "startup_seconds": 5},
    "db": {"capacity_rps": 50, "startup_seconds": 5}},
    "calls": [{"from": "web", "to": "db", "fanout": 2.0}]}, name="shop")
BASE = {"targets": [{"name": "web", "service": "web"}], "graph": {"inline": {"x": 1}}}


@pytest.mark.parametrize(("patch", "field"), [
    ({"mode": "Sometimes"}, "spec.mode"),
    ({"targets": []}, "spec.targets"),
    ({"targets": [{"name": "w", "service": "web", "minReplicas": 5, "maxReplicas": 2}]},
     "spec.targets[0]"),
    ({"graph": {}}, "spec.graph"),
    ({"policy": {"type": "rl"}}, "spec.policy"),
    ({"events": [{"name": "e", "start": "2026-11-27T10:00:00Z", "end": "2026-11-27T09:00:00Z",
                  "expectedUplift": 2}]}, "spec.events[0]"),
    ({"behavior": {"maxStepDown": 2}}, "spec.behavior.maxStepDown"),
    ({"periodSeconds": 0}, "spec.periodSeconds"),
    ({"unknownField": 1}, "spec.unknownField"),
])
def test_invalid_specs_name_the_field(patch: dict, field: str) -> None:
    with pytest.raises(InvalidSpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_spec({**BASE, **patch})


def test_spec_defaults() -> None:
    s = parse_spec(BASE)
    assert s.mode is Mode.ACTIVE and s.period_seconds == 15 and s.policy.baseline == "hpa"
    assert "$service" in s.metrics.queries.rate


def test_target_must_name_a_graph_service() -> None:
    s = parse_spec({**BASE, "targets": [{"name": "w", "service": "nope"}]})
    with pytest.raises(InvalidSpecError, match=r"spec.targets\[0\].service"):
        check_against_graph(s, GRAPH.names)


@pytest.mark.parametrize(("old", "status", "expect_time"), [
    ({}, True, "2026-11-27T10:00:00Z"),
    ({"Fallback": ("True", "2026-01-01T00:00:00Z")}, True, "2026-01-01T00:00:00Z"),
    ({"Fallback": ("False", "2026-01-01T00:00:00Z")}, True, "2026-11-27T10:00:00Z"),
])
def test_last_transition_time_moves_only_on_change(old: dict, status: bool,
                                                   expect_time: str) -> None:
    c = Condition(ConditionType.FALLBACK, status, Reason.PROMETHEUS_UNAVAILABLE, "down", None, 3)
    [d] = merge_conditions(old, [c], T0)
    assert d["lastTransitionTime"] == expect_time
    assert d["observedGeneration"] == 3 and d["status"] == "True"


@pytest.mark.parametrize(("desired", "hpa", "expect"), [
    (9, HpaView("h", 2, 20, None), 9),      # raise the floor
    (1, HpaView("h", 9, 20, 2), 2),         # never below the HPA's own minimum
    (50, HpaView("h", 2, 20, None), 20),    # never above its maximum
    (5, HpaView("h", 5, 20, 3), 5),
])
def test_hpa_floor(desired: int, hpa: HpaView, expect: int) -> None:
    assert hpa_floor(desired, hpa) == expect


@pytest.mark.parametrize(("desired", "current", "hpa", "kind", "replicas", "record"), [
    (5, 3, None, ActuationKind.SCALE, 5, None),
    (3, 3, None, None, None, None),
    (9, 2, HpaView("h", 2, 20, None), ActuationKind.HPA_MIN, 9, 2),
    (9, 9, HpaView("h", 9, 20, 2), None, None, None),
    (1, 9, HpaView("h", 9, 20, 2), ActuationKind.HPA_MIN, 2, None),
])
def test_plan_action(desired: int, current: int, hpa: HpaView | None, kind: ActuationKind | None,
                     replicas: int | None, record: int | None) -> None:
    a = plan_action("web", desired, current, hpa)
    if kind is None:
        assert a is None
    else:
        assert a is not None and a.kind is kind and a.replicas == replicas
        assert a.record_original_min == record


@pytest.mark.parametrize(("deleting", "mode", "finalizers", "step"), [
    (False, Mode.ACTIVE, [], Step.ADD),                       # before the first write
    (False, Mode.ACTIVE, [FINALIZER], Step.NONE),
    (False, Mode.SHADOW, [], Step.NONE),                      # Shadow writes nothing
    (False, Mode.SHADOW, [FINALIZER], Step.NONE),             # ... and keeps what Active raised
    (False, Mode.OFF, [FINALIZER], Step.RESTORE),
    (False, Mode.OFF, [], Step.NONE),
    (True, Mode.ACTIVE, ["other/x", FINALIZER], Step.RESTORE),
    (True, None, [FINALIZER], Step.RESTORE),                  # even with an invalid spec
    (True, Mode.ACTIVE, ["other/x"], Step.NONE),              # never ours: nothing to do
])
def test_finalizer_step(deleting: bool, mode: Mode | None, finalizers: list[str],
                        step: Step) -> None:
    assert finalizer_step(deleting, mode, finalizers) is step


def test_restores_give_back_each_recorded_minimum_and_keep_other_finalizers() -> None:
    raised = [HpaView("a", 9, 20, 2), HpaView("b", 5, 20, None), HpaView("c", 4, 20, 4)]
    assert restores(raised) == (Restore("a", 2), Restore("c", 4))
    assert without(["other/x", FINALIZER]) == ["other/x"]


def test_one_listing_serves_each_target_and_the_raised() -> None:
    web, api = workload_key("Deployment", "web"), workload_key("StatefulSet", "api")
    listed = [HpaView("a", 9, 20, 2, web, "shop"), HpaView("b", 3, 20, None, api),
              HpaView("c", 6, 20, 4, workload_key("Deployment", "old"), "shop"),
              HpaView("d", 7, 20, 1, workload_key("Deployment", "x"), "other")]
    assert hpa_for(listed, web) == listed[0] and hpa_for(listed, api) == listed[1]
    assert hpa_for(listed, workload_key("StatefulSet", "web")) is None  # kind counts
    assert raised_by(listed, "shop") == [listed[0], listed[2]]
    assert orphaned(raised_by(listed, "shop"), {web, api}) == (Restore("c", 4),)


def test_plan_action_names_the_scaler_on_hpa_writes() -> None:
    a = plan_action("web", 9, 2, HpaView("h", 2, 20, None), owner="shop")
    assert a is not None and a.owner == "shop"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(("observed", "age", "acquires"), [
    (None, 0, True),
    (LeaseRecord("other", T0, T0, 4, 0, "1"), 2, False),   # valid lease held by another
    (LeaseRecord("other", T0, T0, 4, 0, "1"), 5, True),    # expired
    (LeaseRecord("me", T0, T0, 4, 0, "1"), 100, True),     # our own: renew
    (LeaseRecord(None, None, None, 4, 0, "1"), 0, True),   # released
])
def test_leader_proposals(observed: LeaseRecord | None, age: int, acquires: bool) -> None:
    clock = Clock()
    clock.now = T0 + timedelta(seconds=age)
    e = LeaderElector(LeaderConfig("me", 4, 3, 1), clock)
    p = e.propose(observed)
    assert (p is not None) == acquires
    if p is not None:
        assert p.holder == "me" and p.renew_time == clock.now
        if observed is not None and observed.holder not in ("me",):
            assert p.transitions == observed.transitions + 1


def test_leader_stops_acting_after_renew_deadline() -> None:
    clock = Clock()
    e = LeaderElector(LeaderConfig("me", 4, 3, 1), clock)
    assert not e.is_leader()
    e.written(True)
    assert e.is_leader()
    clock.now += timedelta(seconds=2.9)
    assert e.is_leader()
    clock.now += timedelta(seconds=0.2)
    assert not e.is_leader()


def test_leader_config_rejects_bad_timing() -> None:
    with pytest.raises(ValueError):
        LeaderConfig("me", 4, 5, 1)


@pytest.mark.parametrize(("sample", "problem"), [
    (None, SampleProblem.MISSING),
    (Sample(math.nan, T0), SampleProblem.NAN),
    (Sample(math.inf, T0), SampleProblem.NAN),
    (Sample(1.0, T0 - timedelta(seconds=121)), SampleProblem.STALE),
    (Sample(1.0, T0 - timedelta(seconds=60)), None),
])
def test_sample_checks(sample: Sample | None, problem: SampleProblem | None) -> None:
    assert check_sample(sample, T0, 120) is problem


def test_build_observation_fills_the_twin_type() -> None:
    samples = {("web", MetricKind.RATE): Sample(30.0, T0), ("web", MetricKind.CPU): Sample(0.5, T0),
               ("web", MetricKind.LATENCY): Sample(0.2, T0), ("db", MetricKind.RATE): None}
    obs = build_observation(GRAPH, samples, {"web": WorkloadState(4, 3)}, T0, 7)
    assert obs.tick == 7 and obs.entry_rate_rps == 30.0
    assert list(obs.desired) == [4, 1] and list(obs.ready) == [3, 1] and list(obs.pending) == [1, 0]
    assert obs.p95_latency_ms[0] == pytest.approx(200.0)
    bad = first_bad(samples, ("web", "db"), (MetricKind.RATE,), T0, 120)
    assert bad is not None and bad.service == "db" and bad.problem is SampleProblem.MISSING


@pytest.mark.parametrize(("now_offset", "active"), [(-11, False), (-9, True), (59, True),
                                                    (60, False)])
def test_event_window(now_offset: int, active: bool) -> None:
    ev = PlannedEvent("e", T0, T0 + timedelta(seconds=60), 3.0, 10.0)
    assert ev.active(T0 + timedelta(seconds=now_offset)) is active


def test_utilisation_replicas() -> None:
    assert list(utilisation_replicas(GRAPH, 60.0, 0.7)) == [9, 4]
    # one entry rate per service (each service's own peak), and whole numbers do not round up
    exact = 0.7 * GRAPH.array("capacity_rps") / GRAPH.visit_ratios()
    assert list(utilisation_replicas(GRAPH, exact, 0.7)) == [1, 1]


@pytest.mark.parametrize(("fallback", "event", "clipped", "cur", "want", "reason"), [
    (True, "e", False, 3, 9, DecisionReason.FALLBACK),
    (False, "e", False, 3, 9, DecisionReason.EVENT_PRESCALE),
    (False, "e", False, 9, 9, DecisionReason.STEADY),
    (False, None, True, 3, 7, DecisionReason.GUARDRAIL),
    (False, None, False, 3, 7, DecisionReason.SCALE_UP),
    (False, None, False, 7, 3, DecisionReason.SCALE_DOWN),
])
def test_decision_reason(fallback: bool, event: str | None, clipped: bool, cur: int, want: int,
                         reason: DecisionReason) -> None:
    assert decision_reason(fallback, event, clipped, cur, want) is reason


def test_utilisation_replicas_is_integer_array() -> None:
    assert utilisation_replicas(GRAPH, 0.0, 0.7).dtype.kind == "i"

"""HPA controller tests: behavior tables ported from kubernetes horizontal_test.go (case ids are
the upstream test function plus the upstream case name), controller-level cases, and HpaPolicy
on a small hand-made ServiceGraph."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from envs.graph import ServiceGraph, parse_graph
from envs.observation import LatencySample, Observation, Slo
from scaler.hpa.behavior import (
    Behavior,
    Bounds,
    PolicyType,
    Reason,
    Recommendation,
    ScaleEvent,
    ScalingHistory,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
    convert_with_behavior_rate,
    default_scale_down_rules,
    default_scale_up_rules,
    replicas_change_per_period,
)
from scaler.hpa.policy import (
    Condition,
    ConditionType,
    ExternalReading,
    HorizontalController,
    HpaPolicy,
    HpaSpec,
    PodCounts,
    ResourceReading,
    ScaleState,
    TargetType,
)
from scaler.hpa.replica_calculator import HomogeneousPods
from scaler.policy import PolicyContext

NOW = 1_000_000.0


def rules(pods: int, pods_period: int, percent: int, percent_period: int,
          window: int) -> ScalingRules:
    """horizontal_test.go generateScalingRules."""
    policies = []
    if pods:
        policies.append(ScalingPolicy(PolicyType.PODS, pods, pods_period))
    if percent:
        policies.append(ScalingPolicy(PolicyType.PERCENT, percent, percent_period))
    return ScalingRules(window, SelectPolicy.MAX, tuple(policies))


def uniform_events(changes: list[int], period: int) -> list[ScaleEvent]:
    """horizontal_test.go generateEventsUniformDistribution: midpoints of equal segments."""
    seg = period / len(changes)
    return [ScaleEvent(c, NOW - int(period - seg * (i + 1) + seg / 2))
            for i, c in enumerate(changes)]


U = None  # default rules (GenerateHPAScale{Up,Down}Rules(nil))
# name: (up events, down events, min, max, up rules, down rules, current, desired, want, reason)
SCALING_WITH_RULES = {
    "prenormalized desired replicas within range": (
        [], [], 3, 8, U, U, 5, 7, 7, Reason.DESIRED_WITHIN_RANGE),
    "prenormalized desired replicas < minReplicas": (
        [], [], 2, 8, U, U, 3, 1, 2, Reason.TOO_FEW_REPLICAS),
    "prenormalized desired replicas within range when minReplicas is 0": (
        [], [], 0, 10, U, U, 1, 0, 0, Reason.DESIRED_WITHIN_RANGE),
    "maxReplicas is the limit because maxReplicas < scaleUpLimit": (
        [], [], 1, 10, U, U, 20, 1000, 10, Reason.TOO_MANY_REPLICAS),
    "desired replica count is more than the maximum replica count": (
        [], [], 100, 150, U, U, 100, 1000, 150, Reason.TOO_MANY_REPLICAS),
    "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies": (
        [], [], 1, 2000, rules(0, 0, 1, 60, 0), U, 3, 1000, 4, Reason.SCALE_UP_LIMIT),
    "scaleDownLimit is the limit because scaleDownLimit > minReplicas with user policies": (
        [], [], 3, 2000, U, rules(20, 60, 0, 0, 0), 1000, 3, 980, Reason.SCALE_DOWN_LIMIT),
    "scaleUp with default behavior": (
        [], [], 1, 1000, U, U, 10, 50, 20, Reason.SCALE_UP_LIMIT),
    "scaleUp with pods policy larger than percent policy": (
        [], [], 1, 1000, rules(100, 60, 100, 60, 0), U, 10, 500, 110, Reason.SCALE_UP_LIMIT),
    "scaleUp with percent policy larger than pods policy": (
        [], [], 1, 1000, rules(2, 60, 100, 60, 0), U, 10, 500, 20, Reason.SCALE_UP_LIMIT),
    "scaleUp with pod policy limitation": (
        [], [], 1, 1000, rules(30, 60, 0, 0, 0), U, 10, 50, 40, Reason.SCALE_UP_LIMIT),
    "scaleUp with percent policy limitation": (
        [], [], 1, 1000, rules(0, 0, 200, 60, 0), U, 10, 50, 30, Reason.SCALE_UP_LIMIT),
    "scaleDown with percent policy larger than pod policy": (
        [], [], 1, 1000, U, rules(20, 60, 1, 60, 300), 100, 2, 80, Reason.SCALE_DOWN_LIMIT),
    "scaleDown with pod policy larger than percent policy": (
        [], [], 1, 1000, U, rules(2, 60, 1, 60, 300), 100, 2, 98, Reason.SCALE_DOWN_LIMIT),
    "scaleDown with spec MinReplicas limitation with large percent policy": (
        [], [], 5, 1000, U, rules(0, 0, 100, 60, 300), 10, 2, 5, Reason.TOO_FEW_REPLICAS),
    "scaleDown with pod policy limitation": (
        [], [], 1, 1000, U, rules(5, 60, 0, 0, 300), 10, 2, 5, Reason.SCALE_DOWN_LIMIT),
    "scaleDown with percent policy limitation": (
        [], [], 1, 1000, U, rules(0, 0, 50, 60, 300), 10, 5, 5, Reason.DESIRED_WITHIN_RANGE),
    "scaleUp with spec MaxReplicas limitation with large pod policy and events": (
        uniform_events([1, 5, 9], 120), [], 1, 200, rules(300, 60, 0, 0, 0), U, 100, 500, 200,
        Reason.TOO_MANY_REPLICAS),
    "scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent "
    "scale up events": (
        uniform_events([1, 5, 9], 120), [], 1, 1000, rules(5, 120, 0, 0, 0), U, 100, 500, 100,
        Reason.SCALE_UP_LIMIT),
    "scaleUp with pod policy and previous scale up events": (
        uniform_events([1, 5, 9], 120), [], 1, 1000, rules(150, 120, 0, 0, 0), U, 100, 500, 235,
        Reason.SCALE_UP_LIMIT),
    "scaleUp with percent policy and previous scale up events": (
        uniform_events([1, 5, 9], 120), [], 1, 1000, rules(0, 0, 200, 120, 0), U, 100, 500, 255,
        Reason.SCALE_UP_LIMIT),
    "scaleUp with percent policy and previous scale up and down events": (
        uniform_events([4], 120), uniform_events([2], 120), 1, 1000, rules(0, 0, 300, 300, 0), U,
        6, 24, 16, Reason.SCALE_UP_LIMIT),
    "scaleDown with default policy and previous events": (
        [], uniform_events([1, 5, 9], 120), 1, 1000, U, U, 10, 5, 5,
        Reason.DESIRED_WITHIN_RANGE),
    "scaleDown with pod policy limitation and previous events": (
        [], uniform_events([1, 5, 9], 120), 1, 1000, U, rules(5, 120, 0, 0, 300), 100, 2, 100,
        Reason.SCALE_DOWN_LIMIT),
    "scaleDown with percent policy limitation and previous events": (
        [], uniform_events([2, 4, 6], 120), 1, 1000, U, rules(0, 0, 50, 120, 300), 100, 0, 56,
        Reason.SCALE_DOWN_LIMIT),
    "scaleDown with percent policy and previous scale up and down events": (
        uniform_events([2], 120), uniform_events([4], 120), 1, 1000, U, rules(0, 0, 50, 180, 0),
        10, 1, 6, Reason.SCALE_DOWN_LIMIT),
    "scaleDown with previous events preventing further scale down": (
        [], uniform_events([10, 10, 10], 120), 1, 1000, U, rules(0, 0, 10, 120, 300), 100, 0,
        100, Reason.SCALE_DOWN_LIMIT),
    "scaleDown with with previous events still allowing more scale down": (
        [], uniform_events([10, 10, 10], 120), 1, 1000, U, rules(0, 0, 1000, 120, 300), 10, 5,
        5, Reason.DESIRED_WITHIN_RANGE),
    "check that events were marked 'outdated' for two different policies in the behavior for "
    "up": (
        uniform_events([8, 12, 9, 11], 120), [], 1, 1000, rules(1000, 30, 100, 60, 0), U, 100,
        200, 200, Reason.DESIRED_WITHIN_RANGE),
}


@pytest.mark.parametrize("case", SCALING_WITH_RULES.values(),
                         ids=[f"TestScalingWithRules/{k}" for k in SCALING_WITH_RULES])
def test_scaling_with_rules(case: tuple) -> None:  # type: ignore[type-arg]
    up, down, lo, hi, up_rules, down_rules, current, desired, want, reason = case
    behavior = Behavior(up_rules or default_scale_up_rules(),
                        down_rules or default_scale_down_rules())
    got = convert_with_behavior_rate(current, desired, Bounds(lo, hi), behavior, up, down, NOW)
    assert got == (want, reason)


def recs(*pairs: tuple[int, float]) -> list[Recommendation]:
    return [Recommendation(r, NOW - minutes * 60) for r, minutes in pairs]


# name: (recommendations, current, desired, want, want stored, up window, down window)
STABILIZE_WITH_BEHAVIORS = {
    "empty recommendations for scaling down": ([], 100, 5, 5, [5], 0, 0),
    "simple scale down stabilization": (recs((4, 2), (5, 1)), 100, 3, 5, [4, 5, 3], 0, 180),
    "simple scale up stabilization": (recs((4, 2), (5, 1)), 1, 7, 4, [4, 5, 7], 300, 0),
    "no scale down stabilization": (recs((1, 2), (2, 1)), 100, 3, 3, [1, 2, 3], 300, 0),
    "no scale up stabilization": (recs((4, 2), (5, 1)), 1, 3, 3, [4, 5, 3], 0, 300),
    "no scale down stabilization, reuse recommendation element": (
        recs((10, 10), (9, 9)), 100, 3, 3, [10, 3], 0, 0),
    "no scale up stabilization, reuse recommendation element": (
        recs((10, 10), (9, 9)), 1, 100, 100, [10, 100], 0, 0),
    "scale down stabilization, reuse one of obsolete recommendation element": (
        recs((10, 10), (4, 1), (5, 2), (9, 9)), 100, 3, 5, [10, 4, 5, 3], 0, 180),
    "scale up stabilization, reuse one of obsolete recommendation element": (
        recs((10, 100), (6, 1), (5, 2), (9, 3)), 1, 100, 5, [100, 6, 5, 9], 300, 0),
    "scale up and down stabilization, do not scale up when prenormalized rec goes down": (
        recs((2, 100), (3, 3)), 2, 1, 2, None, 300, 300),
    "scale up and down stabilization, do not scale down when prenormalized rec goes up": (
        recs((2, 100), (1, 3)), 2, 3, 2, None, 300, 300),
}


@pytest.mark.parametrize("case", STABILIZE_WITH_BEHAVIORS.values(),
                         ids=[f"TestNormalizeDesiredReplicasWithBehavior/{k}"
                              for k in STABILIZE_WITH_BEHAVIORS])
def test_stabilize_with_behaviors(case: tuple) -> None:  # type: ignore[type-arg]
    history_recs, current, desired, want, stored, up_window, down_window = case
    history = ScalingHistory(recommendations=list(history_recs))
    got, _ = history.stabilize_with_behaviors(current, desired, up_window, down_window, NOW)
    assert got == want
    if stored is not None:
        assert [r.replicas for r in history.recommendations] == stored


@pytest.mark.parametrize(
    ("history_recs", "desired", "want", "log_length"),
    [
        ([], 5, 5, 1),
        (recs((4, 2), (5, 1)), 3, 5, 3),
        (recs((1, 2), (2, 1)), 3, 3, 3),
        (recs((10, 10), (9, 9)), 3, 3, 2),
        (recs((10, 10), (4, 1), (5, 2), (9, 9)), 3, 5, 4),
    ],
    ids=[f"TestNormalizeDesiredReplicas/{n}" for n in (
        "empty log", "stabilize", "no stabilize", "no stabilize - old recommendations",
        "stabilize - old recommendations")],
)
def test_legacy_stabilization(history_recs: list[Recommendation], desired: int, want: int,
                              log_length: int) -> None:
    history = ScalingHistory(recommendations=list(history_recs))
    assert history.stabilize_legacy(desired, 300, NOW) == want
    assert len(history.recommendations) == log_length


def ev(change: int, age: float, outdated: bool = False) -> ScaleEvent:
    return ScaleEvent(change, NOW - age, outdated)


# name: (previous events, rules, expected change in the last 60 s, stored (change, outdated))
STORE_SCALE_EVENTS = {
    "empty entries with two-policy-behavior": (
        [], rules(10, 60, 100, 60, 0), 0, [(5, False)]),
    "one outdated entry to be replaced with behavior": (
        [ev(7, 61)], rules(10, 60, 100, 60, 0), 0, [(5, False)]),
    "one actual entry to be not touched with behavior": (
        [ev(7, 58)], rules(10, 60, 100, 60, 0), 7, [(7, False), (5, False)]),
    "two entries, one of them to be replaced": (
        [ev(7, 61), ev(6, 59)], rules(10, 60, 0, 0, 0), 6, [(5, False), (6, False)]),
    "replace one entry, use policies with different periods": (
        [ev(8, 29), ev(6, 59), ev(7, 61), ev(9, 61)], rules(10, 60, 100, 30, 0), 14,
        [(8, False), (6, False), (7, True), (5, False)]),
    "two entries, both actual": (
        [ev(7, 58), ev(6, 59)], rules(10, 120, 100, 30, 0), 13,
        [(7, False), (6, False), (5, False)]),
}


@pytest.mark.parametrize("case", STORE_SCALE_EVENTS.values(),
                         ids=[f"TestStoreScaleEvents/{k}" for k in STORE_SCALE_EVENTS])
def test_store_scale_events(case: tuple) -> None:  # type: ignore[type-arg]
    previous, scaling_rules, change, stored = case
    behavior = Behavior(scaling_rules, scaling_rules)
    for direction in (+1, -1):
        history = ScalingHistory(scale_up_events=list(previous),
                                 scale_down_events=list(previous))
        events = history.scale_up_events if direction > 0 else history.scale_down_events
        assert replicas_change_per_period(60, events, NOW) == change
        history.store_scale_event(behavior, 10, 10 + direction * 5, NOW)
        assert [(e.replica_change, e.outdated) for e in events] == stored


def cpu(ready: int, percent_of_request: int, target: int, unready: int = 0) -> ResourceReading:
    return ResourceReading(target, HomogeneousPods(ready, unready, 0, percent_of_request * 10,
                                                   1000))


def failing_external() -> ExternalReading:
    return ExternalReading("qps", TargetType.VALUE, 100, None)


def test_stabilize_downscale_controller() -> None:
    """TestStabilizeDownscale: recent recommendation 4 holds a proposal of 2 (legacy path)."""
    history = ScalingHistory(recommendations=recs((10, 10), (4, 1)))
    hpa = HorizontalController(HpaSpec(1, 5, behavior=None), history=history)
    out = hpa.sync(NOW, ScaleState(4, 4, 4), [cpu(4, 50, 100)])
    assert (out.desired_replicas, out.rescaled) == (4, False)
    assert out.condition(ConditionType.ABLE_TO_SCALE) == Condition(
        ConditionType.ABLE_TO_SCALE, True, Reason.SCALE_DOWN_STABILIZED)


def test_scale_up_one_metric_empty() -> None:
    """TestScaleUpOneMetricEmpty: a failed external metric does not block a CPU scale-up."""
    hpa = HorizontalController(HpaSpec(2, 6, behavior=None))
    out = hpa.sync(NOW, ScaleState(3, 3, 3), [cpu(3, 40, 30), failing_external()])
    assert (out.desired_replicas, out.rescaled) == (4, True)
    active = out.condition(ConditionType.SCALING_ACTIVE)
    assert active is not None and active.status and active.reason is Reason.VALID_METRIC_FOUND


def test_no_scale_down_one_metric_empty() -> None:
    """TestNoScaleDownOneMetricEmpty: a failed metric blocks a scale-down."""
    hpa = HorizontalController(HpaSpec(2, 6, behavior=None))
    out = hpa.sync(NOW, ScaleState(5, 5, 5), [cpu(5, 28, 50), failing_external()])
    assert (out.desired_replicas, out.rescaled) == (5, False)
    active = out.condition(ConditionType.SCALING_ACTIVE)
    assert active is not None and not active.status
    assert active.reason is Reason.FAILED_GET_EXTERNAL_METRIC


def test_multiple_metrics_take_the_max() -> None:
    """computeReplicasForMetrics: the largest proposal wins (CPU 4; external Value 2 x 4 = 8)."""
    hpa = HorizontalController(HpaSpec(1, 20))
    external = ExternalReading("qps", TargetType.VALUE, 1000, (2000,))
    out = hpa.sync(NOW, ScaleState(4, 4, 4), [cpu(4, 70, 70), external])
    assert out.metric_replicas == 8 and out.desired_replicas == 8


def test_spec_outside_min_max_is_corrected_first() -> None:
    """reconcileAutoscaler: spec above max / below min is reset before metrics are read."""
    hpa = HorizontalController(HpaSpec(2, 5))
    assert hpa.sync(NOW, ScaleState(9, 9, 9), [cpu(9, 500, 70)]).desired_replicas == 5
    hpa = HorizontalController(HpaSpec(2, 5))
    assert hpa.sync(NOW, ScaleState(1, 1, 1), [cpu(1, 1, 70)]).desired_replicas == 2


def test_pod_counts_follow_replicaset_deletion_order() -> None:
    assert PodCounts(3, 2).resized(7) == PodCounts(3, 4)
    assert PodCounts(3, 2).resized(4) == PodCounts(3, 1)
    assert PodCounts(3, 2).resized(2) == PodCounts(2, 0)


# --- HpaPolicy on the twin's interface -------------------------------------------------------

GRAPH: ServiceGraph = parse_graph({
    "name": "mini",
    "entry": "web",
    "services": {
        "web": {"capacity_rps": 100, "cpu_request_millicores": 1000, "min_replicas": 2,
                "max_replicas": 40},
        "db": {"capacity_rps": 50, "cpu_request_millicores": 500, "min_replicas": 1,
               "max_replicas": 5},
    },
    "calls": [{"from": "web", "to": "db", "fanout": 1.0}],
})
START = datetime(2024, 11, 25, 3, 0)


def NO_LATENCY() -> LatencySample:  # noqa: N802 - these policies never look at latency
    raise AssertionError("the policy read latency, which it does not observe")


def context(tick_seconds: int) -> PolicyContext:
    return PolicyContext(GRAPH, tick_seconds, Slo(300.0, 0.01), START, np.zeros(0), (),
                         np.random.default_rng(0))


def observe(tick: int, tick_seconds: int, util: list[float], ready: list[int],
            desired: list[int]) -> Observation:
    pending = np.maximum(np.asarray(desired) - np.asarray(ready), 0)
    return Observation(
        tick=tick, now=START + timedelta(seconds=tick * tick_seconds),
        rate_rps=np.zeros(2), cpu_utilization=np.asarray(util), ready=np.asarray(ready),
        pending=pending, desired=np.asarray(desired),
        entry_rate_rps=0.0, latency_source=NO_LATENCY)


def test_hpa_policy_default_is_the_legacy_path_2x_or_4_pods_per_sync() -> None:
    """No `behavior:` (what `kubectl autoscale` creates): at most max(2 x current, 4)."""
    policy = HpaPolicy()
    policy.reset(context(15))
    assert policy.name == "hpa" and policy.behavior is None
    steps = [2]
    for tick in range(5):
        out = policy.decide(observe(tick, 15, [5.0, 0.7], [2, 1], [steps[-1], 1]))
        steps.append(int(out[0]))
    assert steps == [2, 4, 8, 15, 15, 15]


def test_hpa_policy_scale_up_rate_is_max_of_100_percent_and_4_pods_per_15s() -> None:
    policy = HpaPolicy(behavior=Behavior())  # the behavior path, autoscaling/v2 defaults
    policy.reset(context(15))
    steps = [2]
    for tick in range(6):
        # the 2 original pods stay ready and saturated; new pods are still starting
        out = policy.decide(observe(tick, 15, [5.0, 0.7], [2, 1], [steps[-1], 1]))
        steps.append(int(out[0]))
    assert steps[:3] == [2, 6, 12]  # +4 pods beats +100% at 2; +100% beats +4 at 6
    for before, after in zip(steps, steps[1:], strict=False):
        assert after <= max(2 * before, before + 4)
    assert steps[-1] == 15  # 10 Gi of CPU demand over 70% of 1 CPU per pod -> 15 pods


def test_hpa_policy_runs_four_syncs_per_minute_tick() -> None:
    policy = HpaPolicy()
    policy.reset(context(60))
    out = policy.decide(observe(0, 60, [5.0, 0.7], [2, 1], [2, 1]))
    assert list(out) == [15, 1]  # 2 -> 6 -> 12 -> 15 within one tick, db within tolerance


def test_hpa_policy_holds_scale_down_for_300s_window() -> None:
    policy = HpaPolicy()
    policy.reset(context(60))
    desired = [10, 1]
    history = []
    for tick in range(7):
        out = policy.decide(observe(tick, 60, [0.35, 0.7], desired, desired))
        desired = [int(out[0]), int(out[1])]
        history.append(desired[0])
    # recommendations of 5 from t=0 on; the initial 10 leaves the window at t=300 s (tick 5)
    assert history == [10, 10, 10, 10, 10, 5, 5]


def test_hpa_policy_clips_at_min_and_max() -> None:
    policy = HpaPolicy()
    policy.reset(context(60))
    desired = [3, 1]
    for tick in range(12):
        out = policy.decide(observe(tick, 60, [0.01, 9.0], desired, desired))
        desired = [int(out[0]), int(out[1])]
        assert GRAPH.services[0].min_replicas <= desired[0]
        assert desired[1] <= GRAPH.services[1].max_replicas
    assert desired == [2, 5]
    limited = policy._controllers[1].sync(
        NOW, ScaleState(5, 5, 5), [cpu(5, 900, 70)]).condition(ConditionType.SCALING_LIMITED)
    assert limited is not None and limited.reason is Reason.TOO_MANY_REPLICAS

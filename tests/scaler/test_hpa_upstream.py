"""More cases ported from kubernetes pkg/controller/podautoscaler/horizontal_test.go (ids are the
upstream test function, with the case name for table tests): `selectPolicy: Min`/`Disabled`,
the scale-up caps (and their int32 saturation), controller-level TestScale*/replica-bound
cases through `HorizontalController.sync`, and the CPU start-up filter on the twin's pods.

Upstream's controller tests give pods unequal requests (0.9, 1.0, 1.1 CPU); the controller
only sees their sums, so the homogeneous form here uses the same total request and usage.
Upstream's test controller has no downscale stabilization window unless a case sets one.
"""

from __future__ import annotations

import pytest

from scaler.hpa.behavior import (
    MAX_INT32,
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
    convert_with_rules,
    default_scale_down_rules,
    default_scale_up_rules,
    scale_down_limit,
    scale_up_limit,
)
from scaler.hpa.policy import (
    ConditionType,
    ControllerConfig,
    HorizontalController,
    HpaSpec,
    ResourceReading,
    ScaleState,
)
from scaler.hpa.replica_calculator import CalculatorConfig, HomogeneousPods, PodMetric
from scaler.hpa.startup_filter import ReadyCohorts

NOW = 1_000_000.0


def two_policies(select: SelectPolicy, window: int = 0) -> ScalingRules:
    """+/-4 pods and +/-100% (up) or 50% (down) per 60 s, selected by `select`."""
    return ScalingRules(window, select, (ScalingPolicy(PolicyType.PODS, 4, 60),
                                         ScalingPolicy(PolicyType.PERCENT, 100, 60)))


# (select, current, want up limit, want down limit): Max picks the largest change, Min the
# smallest, Disabled none (calculateScaleUpLimitWithScalingRules /
# calculateScaleDownLimitWithBehaviors; upstream has no table of its own for Min/Disabled, so
# these cases are ours, computed by hand from those functions).
SELECT_POLICY = {
    "Max at 10": (SelectPolicy.MAX, 10, 20, 0),
    "Min at 10": (SelectPolicy.MIN, 10, 14, 6),
    "Max at 2": (SelectPolicy.MAX, 2, 6, -2),
    "Min at 2": (SelectPolicy.MIN, 2, 4, 0),
    "Disabled": (SelectPolicy.DISABLED, 10, 10, 10),
}


@pytest.mark.parametrize("case", SELECT_POLICY.values(),
                         ids=[f"selectPolicy {k}" for k in SELECT_POLICY])
def test_select_policy_limits(case: tuple[SelectPolicy, int, int, int]) -> None:
    select, current, up, down = case
    rules = two_policies(select)
    assert scale_up_limit(current, [], [], rules, NOW) == up
    assert scale_down_limit(current, [], [], rules, NOW) == down


@pytest.mark.parametrize(
    ("up_select", "down_select", "current", "desired", "want"),
    [
        (SelectPolicy.DISABLED, SelectPolicy.MAX, 5, 50, (5, Reason.SCALE_UP_LIMIT)),
        (SelectPolicy.MAX, SelectPolicy.DISABLED, 50, 5, (50, Reason.SCALE_DOWN_LIMIT)),
        (SelectPolicy.MIN, SelectPolicy.MIN, 10, 100, (14, Reason.SCALE_UP_LIMIT)),
        (SelectPolicy.MIN, SelectPolicy.MIN, 10, 1, (6, Reason.SCALE_DOWN_LIMIT)),
    ],
    ids=["scaleUp Disabled", "scaleDown Disabled", "scaleUp Min", "scaleDown Min"],
)
def test_select_policy_through_the_rate_limit(up_select: SelectPolicy, down_select: SelectPolicy,
                                              current: int, desired: int,
                                              want: tuple[int, Reason]) -> None:
    behavior = Behavior(two_policies(up_select), two_policies(down_select))
    got = convert_with_behavior_rate(current, desired, Bounds(1, 1000), behavior, [], [], NOW)
    assert got == want


def test_select_min_with_recent_events_counts_from_the_period_start() -> None:
    """A scale-up of 6 in the last 60 s: Min allows start (4) + 4 pods = 8, not 10 + 4."""
    rules = two_policies(SelectPolicy.MIN)
    events = [ScaleEvent(6, NOW - 30)]
    assert scale_up_limit(10, events, [], rules, NOW) == 8


@pytest.mark.parametrize(
    ("current", "want"),
    [(3, (6, Reason.SCALE_UP_LIMIT)), (1, (4, Reason.SCALE_UP_LIMIT)),
     (MAX_INT32 // 2 + 1, (MAX_INT32, Reason.SCALE_UP_LIMIT))],
    ids=["convertDesiredReplicasWithRules/2x", "convertDesiredReplicasWithRules/minimum 4",
         "int32 saturation of the 2x cap"],
)
def test_legacy_scale_up_cap(current: int, want: tuple[int, Reason]) -> None:
    assert convert_with_rules(current, 2**40, Bounds(1, 2**40)) == want


def test_behavior_percent_cap_saturates_at_int32() -> None:
    """A 100% policy on 2^30 + 1 pods would pass int32's range; the limit saturates."""
    rules = ScalingRules(0, SelectPolicy.MAX, (ScalingPolicy(PolicyType.PERCENT, 100, 15),))
    assert scale_up_limit(2**30 + 1, [], [], rules, NOW) == MAX_INT32


def cpu(ready: int, total_usage_milli: int, total_request_milli: int, target: int,
        unready: int = 0) -> ResourceReading:
    """Pods sharing the sums of upstream's per-pod requests and levels."""
    pods = HomogeneousPods(ready, unready, 0, total_usage_milli // ready,
                           total_request_milli // ready)
    return ResourceReading(target, pods)


def up_700() -> Behavior:
    """generateScalingRules(0, 0, 700, 60, 0) up, default down."""
    return Behavior(ScalingRules(0, SelectPolicy.MAX,
                                 (ScalingPolicy(PolicyType.PERCENT, 700, 60),)),
                    default_scale_down_rules())


NO_WINDOW = ControllerConfig(downscale_stabilization_seconds=0)
# name: (min, max, spec, ready, unready, usage, request, target, behavior, want, limited reason)
CONTROLLER = {
    "TestScaleUp": (2, 6, 3, 3, 0, 1500, 3000, 30, None, 5, None),
    "TestScaleUpUnreadyLessScale": (2, 6, 3, 2, 1, 1200, 2000, 30, None, 4, None),
    "TestScaleUpUnreadyNoScale": (2, 6, 3, 1, 2, 400, 1000, 30, None, 3, None),
    "TestScaleDown": (2, 6, 5, 5, 0, 1400, 5000, 50, None, 3, None),
    "TestMinReplicas": (2, 5, 3, 3, 0, 115, 3000, 90, None, 2, Reason.TOO_FEW_REPLICAS),
    "TestMaxReplicas": (2, 5, 3, 3, 0, 18500, 3000, 90, None, 5, Reason.TOO_MANY_REPLICAS),
    "TestSuperfluousMetrics": (2, 6, 4, 4, 0, 4 * 5875, 4000, 100, None, 6,
                               Reason.TOO_MANY_REPLICAS),
    "TestUpscaleCap": (1, 100, 3, 3, 0, 600, 300, 10, up_700(), 24, Reason.SCALE_UP_LIMIT),
    "TestUpscaleCapGreaterThanMaxReplicas": (1, 20, 3, 3, 0, 600, 300, 10, up_700(), 20,
                                             Reason.TOO_MANY_REPLICAS),
}


@pytest.mark.parametrize("case", CONTROLLER.values(), ids=CONTROLLER.keys())
def test_controller_scale(case: tuple) -> None:  # type: ignore[type-arg]
    lo, hi, spec, ready, unready, usage, request, target, behavior, want, limited = case
    # upstream records the first recommendation (the current spec) just before `now`
    history = ScalingHistory(recommendations=[Recommendation(spec, NOW - 1)])
    hpa = HorizontalController(HpaSpec(lo, hi, behavior), NO_WINDOW, history)
    out = hpa.sync(NOW, ScaleState(spec, spec, ready), [cpu(ready, usage, request, target,
                                                           unready)])
    assert out.desired_replicas == want
    assert out.rescaled == (want != spec)
    got = out.condition(ConditionType.SCALING_LIMITED)
    assert got is not None
    assert got.status == (limited is not None)
    if limited is not None:
        assert got.reason is limited


@pytest.mark.parametrize(
    ("lo", "hi", "spec", "want"),
    [(3, 5, 0, 0), (3, 5, 2, 3), (3, 5, 10, 5), (2, 6, 1, 2), (2, 5, 6, 5)],
    ids=["TestZeroReplicas", "TestTooFewReplicas", "TestTooManyReplicas",
         "TestScaleUpRCImmediately", "TestScaleDownRCImmediately"],
)
def test_controller_replica_bounds(lo: int, hi: int, spec: int, want: int) -> None:
    hpa = HorizontalController(HpaSpec(lo, hi, None), NO_WINDOW)
    readings = [cpu(max(spec, 1), 100 * max(spec, 1), 1000 * max(spec, 1), 90)]
    out = hpa.sync(NOW, ScaleState(spec, spec, spec), readings)
    assert out.desired_replicas == want
    if spec == 0:
        active = out.condition(ConditionType.SCALING_ACTIVE)
        assert active is not None and not active.status
        assert active.reason is Reason.SCALING_DISABLED
    else:
        able = out.condition(ConditionType.ABLE_TO_SCALE)
        assert able is not None and able.reason is Reason.SUCCEEDED_RESCALE


# --- the CPU start-up filter on cohorts of the twin's pods -----------------------------------

CONFIG = CalculatorConfig()  # 5 min CPU initialization, 30 s readiness delay


@pytest.mark.parametrize(
    ("ready_since", "startup", "window", "want"),
    [
        (NOW - 30, 45, 60, 4),  # ready 30 s ago: its sample window began before readiness
        (NOW - 60, 45, 60, 0),  # ready a whole window ago: counted
        (NOW - 30, 400, 60, 0),  # past the 5 min initialization period: counted
        (NOW - 10, 45, 15, 4),  # 15 s windows: still before the window after readiness
    ],
    ids=["fresh within init period", "window after readiness", "past init period",
         "short window"],
)
def test_ready_cohorts_apply_the_cpu_start_up_filter(ready_since: float, startup: float,
                                                     window: float, want: int) -> None:
    cohorts = ReadyCohorts(startup)
    cohorts.update(3, -float("inf"))
    cohorts.update(7, ready_since)
    assert cohorts.cpu_unready(NOW, PodMetric(0, NOW, window), CONFIG) == want


def test_ready_cohorts_scale_down_removes_the_newest_first() -> None:
    cohorts = ReadyCohorts(45)
    cohorts.update(3, -float("inf"))
    cohorts.update(7, NOW - 30)
    cohorts.update(5, NOW)
    assert cohorts.cohorts == [(-float("inf"), 3), (NOW - 30, 2)]
    assert cohorts.cpu_unready(NOW, PodMetric(0, NOW, 60), CONFIG) == 2
    cohorts.update(2, NOW)
    assert cohorts.cohorts == [(-float("inf"), 2)]


def test_default_rules_unchanged() -> None:
    """Sanity: the explicit v2 defaults still allow max(+4 pods, +100%) per 15 s."""
    assert scale_up_limit(2, [], [], default_scale_up_rules(), NOW) == 6

"""Table tests ported from kubernetes pkg/controller/podautoscaler/replica_calculator_test.go.

Each case id is the upstream test function name. Upstream pods have two containers with the
same request and usage each, so a pod's request and usage here are twice the per-container
values (which leaves the utilization unchanged and matches upstream's `expectedValue`).
Upstream pods without a start time start at the zero time (long ago); "hot" pods start now and
"cool" pods 3 minutes ago; the test calculator uses a 2 min CPU initialization period and a
10 s initial readiness delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from scaler.errors import InvalidSpecError, MetricsUnavailableError
from scaler.hpa.replica_calculator import (
    CalculatorConfig,
    HomogeneousPods,
    PodMetric,
    PodPhase,
    PodSample,
    ResourceName,
    Tolerances,
    external_metric_replicas,
    external_per_pod_metric_replicas,
    group_pods,
    homogeneous_resource_replicas,
    object_metric_replicas,
    object_per_pod_metric_replicas,
    pods_metric_replicas,
    ready_pod_count,
    resource_replicas,
)

NOW = 1_000_000.0
HOT = NOW
COOL = NOW - 180.0
CONTAINERS = 2
TEST_CONFIG = CalculatorConfig(
    tolerances=Tolerances(0.1, 0.1),
    cpu_initialization_period_seconds=120.0,
    initial_readiness_delay_seconds=10.0,
)
T, F = True, False


@dataclass(frozen=True)
class Case:
    current: int
    expected: int
    requests_milli: tuple[int, ...]
    levels_milli: tuple[int, ...]
    target_percent: int
    expected_utilization: int
    expected_raw: int
    readiness: tuple[bool, ...] = ()
    start: tuple[float, ...] = ()
    phase: tuple[PodPhase, ...] = ()
    deleted: tuple[bool, ...] = ()


def build(case: Case) -> tuple[list[PodSample], dict[str, PodMetric]]:
    count = max(case.current, len(case.phase))
    pods = [
        PodSample(
            name=f"test-pod-{i}",
            phase=case.phase[i] if case.phase else PodPhase.RUNNING,
            ready=case.readiness[i] if i < len(case.readiness) else True,
            start_seconds=case.start[i] if case.start else 0.0,
            request_milli=CONTAINERS * case.requests_milli[i],
            deleted=case.deleted[i] if case.deleted else False,
        )
        for i in range(count)
    ]
    metrics = {f"test-pod-{i}": PodMetric(CONTAINERS * v) for i, v in enumerate(case.levels_milli)}
    return pods, metrics


ONE = 1000
RESOURCE_CASES = {
    "TestReplicaCalcScaleUp": Case(3, 5, (ONE,) * 3, (300, 500, 700), 30, 50, 2 * 500),
    "TestReplicaCalcScaleUpUnreadyLessScale": Case(
        3, 4, (ONE,) * 3, (300, 500, 700), 30, 60, 2 * 600, readiness=(F, T, T)),
    "TestReplicaCalcScaleUpHotCpuLessScale": Case(
        3, 4, (ONE,) * 3, (300, 500, 700), 30, 60, 2 * 600, start=(HOT, COOL, COOL)),
    "TestReplicaCalcScaleUpUnreadyNoScale": Case(
        3, 3, (ONE,) * 3, (400, 500, 700), 30, 40, 2 * 400, readiness=(T, F, F)),
    "TestReplicaCalcScaleHotCpuNoScale": Case(
        3, 3, (ONE,) * 3, (400, 500, 700), 30, 40, 2 * 400, readiness=(T, F, F),
        start=(COOL, HOT, HOT)),
    "TestReplicaCalcScaleUpIgnoresFailedPods": Case(
        2, 4, (ONE,) * 4, (500, 700), 30, 60, 2 * 600, readiness=(T, T, F, F),
        phase=(PodPhase.RUNNING, PodPhase.RUNNING, PodPhase.FAILED, PodPhase.FAILED)),
    "TestReplicaCalcScaleUpIgnoresDeletionPods": Case(
        2, 4, (ONE,) * 4, (500, 700), 30, 60, 2 * 600, readiness=(T, T, F, F),
        phase=(PodPhase.RUNNING,) * 4, deleted=(F, F, T, T)),
    "TestReplicaCalcScaleDown": Case(
        5, 3, (ONE,) * 5, (100, 300, 500, 250, 250), 50, 28, 2 * 280),
    "TestReplicaCalcScaleDownExcludeUnreadyPods": Case(
        5, 2, (ONE,) * 5, (100, 300, 500, 250, 250), 50, 30, 2 * 300, readiness=(T, T, T, F, F)),
    "TestReplicaCalcScaleDownExcludeUnscheduledPods": Case(
        5, 1, (ONE,) * 5, (100,), 50, 10, 2 * 100, readiness=(T, F, F, F, F),
        phase=(PodPhase.RUNNING,) + (PodPhase.PENDING,) * 4),
    "TestReplicaCalcScaleDownIgnoreHotCpuPods": Case(
        5, 2, (ONE,) * 5, (100, 300, 500, 250, 250), 50, 30, 2 * 300,
        start=(COOL, COOL, COOL, HOT, HOT)),
    "TestReplicaCalcScaleDownIgnoresFailedPods": Case(
        5, 3, (ONE,) * 7, (100, 300, 500, 250, 250), 50, 28, 2 * 280,
        readiness=(T, T, T, T, T, F, F), phase=(PodPhase.RUNNING,) * 5 + (PodPhase.FAILED,) * 2),
    "TestReplicaCalcScaleDownIgnoresDeletionPods": Case(
        5, 3, (ONE,) * 7, (100, 300, 500, 250, 250), 50, 28, 2 * 280,
        readiness=(T, T, T, T, T, F, F), phase=(PodPhase.RUNNING,) * 7,
        deleted=(F, F, F, F, F, T, T)),
    "TestReplicaCalcTolerance": Case(
        3, 3, (900, 1000, 1100), (1010, 1030, 1020), 100, 102, 2 * 1020),
    "TestReplicaCalcSuperfluousMetrics": Case(
        4, 24, (ONE,) * 4, (4000, 9500, 3000, 7000, 3200, 2000), 100, 587, 2 * 5875),
    "TestReplicaCalcMissingMetrics": Case(4, 3, (ONE,) * 4, (400, 95), 100, 24, 495),
    "TestReplicaCalcMissingMetricsNoChangeEq": Case(2, 2, (ONE,) * 2, (1000,), 100, 100, 2000),
    "TestReplicaCalcMissingMetricsNoChangeGt": Case(2, 2, (ONE,) * 2, (1900,), 100, 190, 3800),
    "TestReplicaCalcMissingMetricsNoChangeLt": Case(2, 2, (ONE,) * 2, (600,), 100, 60, 1200),
    "TestReplicaCalcMissingMetricsUnreadyChange": Case(
        3, 3, (ONE,) * 3, (100, 450), 50, 45, 2 * 450, readiness=(F, T, T)),
    "TestReplicaCalcMissingMetricsHotCpuNoChange": Case(
        3, 3, (ONE,) * 3, (100, 450), 50, 45, 2 * 450, start=(HOT, COOL, COOL)),
    "TestReplicaCalcMissingMetricsUnreadyScaleUp": Case(
        3, 4, (ONE,) * 3, (100, 2000), 50, 200, 2 * 2000, readiness=(F, T, T)),
    "TestReplicaCalcMissingMetricsHotCpuScaleUp": Case(
        3, 4, (ONE,) * 3, (100, 2000), 50, 200, 2 * 2000, readiness=(F, T, T),
        start=(HOT, COOL, COOL)),
    "TestReplicaCalcMissingMetricsUnreadyScaleDown": Case(
        4, 3, (ONE,) * 4, (100, 100, 100), 50, 10, 2 * 100, readiness=(F, T, T, T)),
    "TestReplicaCalcMissingMetricsScaleDownTargetOver100": Case(
        4, 2, (ONE, ONE, 2000, 2000), (200, 100, 100), 300, 6, 2 * 100, readiness=(F, T, T, T)),
    "TestReplicaCalcDuringRollingUpdateWithMaxSurge": Case(
        2, 2, (ONE,) * 3, (100, 100), 50, 10, 2 * 100, phase=(PodPhase.RUNNING,) * 3),
}


@pytest.mark.parametrize("case", RESOURCE_CASES.values(), ids=RESOURCE_CASES.keys())
def test_resource_replicas(case: Case) -> None:
    pods, metrics = build(case)
    out = resource_replicas(case.current, case.target_percent, pods, metrics, NOW, TEST_CONFIG)
    assert out.replicas == case.expected
    assert out.utilization_percent == case.expected_utilization
    assert out.raw_average_milli == case.expected_raw


def test_computed_tolerance_alg_implementation() -> None:
    """TestReplicaCalcComputedToleranceAlgImplementation: 10 pods at 150m of ~300m requests."""
    start_pods, used = 10, 1500
    requested = 2 * used
    per_pod = requested // start_pods
    jitter = (100, -100, 10, -10, 2, -2, 1, -1, 0, 0)
    pods = [PodSample(f"p{i}", request_milli=CONTAINERS * (per_pod + j))
            for i, j in enumerate(jitter)]
    metrics = {f"p{i}": PodMetric(CONTAINERS * used // 10) for i in range(start_pods)}
    target = abs(1 / (2.0 * (1 - 0.1))) + 0.01
    percent = int(target * 100)
    final = int(np.ceil(used / (requested * target) * start_pods))
    out = resource_replicas(start_pods, percent, pods, metrics, NOW, TEST_CONFIG)
    assert (out.replicas, out.utilization_percent) == (final, used * 100 // requested)
    near = int((abs(1 / (2.0 * (1 - 0.1))) + 0.004) * 100)
    assert resource_replicas(start_pods, near, pods, metrics, NOW, TEST_CONFIG).replicas == 10


@pytest.mark.parametrize(
    ("pods", "metrics", "message"),
    [
        # TestReplicaCalcDisjointResourcesMetrics
        ([PodSample("test-pod-0")], {"an-older-pod-name": PodMetric(200)},
         "no metrics returned matched known pods"),
        # TestReplicaCalcEmptyMetrics (the pods exist, every one is missing its sample)
        ([PodSample(f"p{i}") for i in range(3)], {}, "did not receive metrics"),
    ],
    ids=["TestReplicaCalcDisjointResourcesMetrics", "TestReplicaCalcEmptyMetrics"],
)
def test_resource_replicas_without_usable_metrics(
    pods: list[PodSample], metrics: dict[str, PodMetric], message: str
) -> None:
    with pytest.raises(MetricsUnavailableError, match=message):
        resource_replicas(1, 100, pods, metrics, NOW, TEST_CONFIG)


def test_empty_cpu_request() -> None:
    """TestReplicaCalcEmptyCPURequest."""
    pods = [PodSample("test-pod-0", request_milli=None)]
    with pytest.raises(InvalidSpecError, match="missing request for cpu"):
        resource_replicas(1, 100, pods, {"test-pod-0": PodMetric(400)}, NOW, TEST_CONFIG)


PLAIN_CASES = {
    # (current, expected, levels, target, expected usage, readiness)
    "TestReplicaCalcScaleUpCM": (3, 4, (20000, 10000, 30000), 15000, 20000, ()),
    "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale": (
        3, 6, (50000, 10000, 30000), 15000, 30000, (T, T, F)),
    "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown": (
        3, 7, (50000, 15000, 30000), 15000, 31666, (F, T, F)),
    "TestReplicaCalcScaleUpCMExternalNoLabels": (1, 2, (8600,), 4400, 8600, ()),
    "TestReplicaCalcScaleDownCM": (5, 3, (12000,) * 5, 20000, 12000, ()),
    "TestReplicaCalcToleranceCM": (3, 3, (20000, 21000, 21000), 20000, 20666, ()),
    "TestPlainMetricReplicaCalcMissingMetricsNoChangeEq": (
        5, 5, (20000, 19000, 21000), 20000, 20000, ()),
}


@pytest.mark.parametrize("case", PLAIN_CASES.values(), ids=PLAIN_CASES.keys())
def test_pods_metric_replicas(case: tuple[int, int, tuple[int, ...], int, int,
                                          tuple[bool, ...]]) -> None:
    current, expected, levels, target, usage, readiness = case
    pods = [PodSample(f"p{i}", ready=readiness[i] if readiness else True) for i in range(current)]
    metrics = {f"p{i}": PodMetric(v) for i, v in enumerate(levels)}
    out = pods_metric_replicas(current, target, pods, metrics, NOW, TEST_CONFIG)
    assert (out.replicas, out.usage_milli) == (expected, usage)


def test_during_rolling_update_with_max_surge_cm() -> None:
    """TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM: 3 pods, 2 samples, spec 2."""
    pods = [PodSample(f"p{i}") for i in range(3)]
    metrics = {"p0": PodMetric(10000), "p1": PodMetric(10000)}
    assert pods_metric_replicas(2, 17000, pods, metrics, NOW, TEST_CONFIG).replicas == 2


TOL = TEST_CONFIG.tolerances


@pytest.mark.parametrize(
    ("current", "target", "usage", "ready", "expected"),
    [
        (3, 15000, 20000, 3, 4),  # TestReplicaCalcScaleUpCMObject
        (3, 10000, 50000, 1, 5),  # TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods
        (5, 20000, 12000, 5, 3),  # TestReplicaCalcScaleDownCMObject
        (3, 20000, 20666, 3, 3),  # TestReplicaCalcToleranceCMObject
    ],
    ids=["TestReplicaCalcScaleUpCMObject", "TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods",
         "TestReplicaCalcScaleDownCMObject", "TestReplicaCalcToleranceCMObject"],
)
def test_object_metric_replicas(current: int, target: int, usage: int, ready: int,
                                expected: int) -> None:
    assert object_metric_replicas(current, target, usage, ready, TOL).replicas == expected


@pytest.mark.parametrize(
    ("status", "target", "usage", "expected", "average"),
    [
        (3, 5000, 20000, 4, 6667),  # TestReplicaCalcScaleUpCMPerPodObject
        (5, 2000, 6000, 3, 1200),  # TestReplicaCalcScaleDownPerPodCMObject
        (4, 5000, 20166, 4, 5042),  # TestReplicaCalcTolerancePerPodCMObject
    ],
    ids=["TestReplicaCalcScaleUpCMPerPodObject", "TestReplicaCalcScaleDownPerPodCMObject",
         "TestReplicaCalcTolerancePerPodCMObject"],
)
def test_object_per_pod_metric_replicas(status: int, target: int, usage: int, expected: int,
                                        average: int) -> None:
    out = object_per_pod_metric_replicas(status, target, usage, TOL)
    assert (out.replicas, out.usage_milli) == (expected, average)


def test_external_value_ignores_unready_pods() -> None:
    """TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods: 1 of 3 pods ready -> 2, not 6."""
    pods = [PodSample(f"p{i}", ready=r) for i, r in enumerate((F, T, F))]
    out = external_metric_replicas(3, 4400, (8600,), ready_pod_count(pods), TOL)
    assert (out.replicas, out.usage_milli) == (2, 8600)


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [(5, 14334, 3), (3, 8888, 3)],
    ids=["TestReplicaCalcScaleDownCMExternal", "TestReplicaCalcToleranceCMExternal"],
)
def test_external_value(current: int, target: int, expected: int) -> None:
    assert external_metric_replicas(current, target, (8600,), current, TOL).replicas == expected


@pytest.mark.parametrize(
    ("status", "target", "expected", "average"),
    [(3, 2150, 4, 2867), (5, 2867, 3, 1720), (3, 2900, 3, 2867)],
    ids=["TestReplicaCalcScaleUpPerPodCMExternal", "TestReplicaCalcScaleDownPerPodCMExternal",
         "TestReplicaCalcTolerancePerPodCMExternal"],
)
def test_external_average_value(status: int, target: int, expected: int, average: int) -> None:
    out = external_per_pod_metric_replicas(status, target, (8600,), TOL)
    assert (out.replicas, out.usage_milli) == (expected, average)


def test_external_value_scales_from_zero_without_tolerance() -> None:
    """getUsageRatioReplicaCount: currentReplicas=0 -> ceil(usageRatio)."""
    assert external_metric_replicas(0, 1000, (1050,), 0, TOL).replicas == 2


GROUP_CASES = {
    # name: (pod, metric, resource, (ready, unready, missing, ignored))
    "count in a ready pod - memory": (
        PodSample("b", phase=PodPhase.SUCCEEDED, ready=None, start_seconds=None),
        PodMetric(1, NOW, 60), ResourceName.MEMORY, (1, 0, 0, 0)),
    "unready a pod without ready condition - CPU": (
        PodSample("l", phase=PodPhase.SUCCEEDED, ready=None, start_seconds=NOW),
        PodMetric(1), ResourceName.CPU, (0, 1, 0, 0)),
    "count in a ready pod with fresh metrics during initialization period - CPU": (
        PodSample("b", phase=PodPhase.SUCCEEDED, start_seconds=NOW - 60,
                  ready_transition_seconds=NOW - 30),
        PodMetric(1, NOW, 30), ResourceName.CPU, (1, 0, 0, 0)),
    "unready a ready pod without fresh metrics during initialization period - CPU": (
        PodSample("b", phase=PodPhase.SUCCEEDED, start_seconds=NOW - 60,
                  ready_transition_seconds=NOW - 30),
        PodMetric(1, NOW, 60), ResourceName.CPU, (0, 1, 0, 0)),
    "unready an unready pod during initialization period - CPU": (
        PodSample("l", phase=PodPhase.SUCCEEDED, ready=False, start_seconds=NOW - 600,
                  ready_transition_seconds=NOW - 594),
        PodMetric(1), ResourceName.CPU, (0, 1, 0, 0)),
    "count in a ready pod without fresh metrics after initialization period - CPU": (
        PodSample("b", phase=PodPhase.SUCCEEDED, start_seconds=NOW - 180,
                  ready_transition_seconds=NOW - 180),
        PodMetric(1, NOW - 120, 60), ResourceName.CPU, (1, 0, 0, 0)),
    "count in an unready pod that was ready after initialization period - CPU": (
        PodSample("l", phase=PodPhase.SUCCEEDED, ready=False, start_seconds=NOW - 600,
                  ready_transition_seconds=NOW - 540),
        PodMetric(1), ResourceName.CPU, (1, 0, 0, 0)),
    "unready pod that has never been ready after initialization period - CPU": (
        PodSample("l", phase=PodPhase.SUCCEEDED, ready=False, start_seconds=NOW - 600,
                  ready_transition_seconds=NOW - 590),
        PodMetric(1), ResourceName.CPU, (1, 0, 0, 0)),
    "a missing pod": (
        PodSample("e", phase=PodPhase.SUCCEEDED, ready=None, start_seconds=NOW - 180),
        None, ResourceName.CPU, (0, 0, 1, 0)),
    "pending pods are unreadied": (
        PodSample("u", phase=PodPhase.PENDING, ready=None, start_seconds=None),
        None, ResourceName.CPU, (0, 1, 0, 0)),
    "ignore pods with deletion timestamps": (
        PodSample("d", phase=PodPhase.PENDING, deleted=True), PodMetric(1), ResourceName.CPU,
        (0, 0, 0, 1)),
    "ignore pods in a failed state": (
        PodSample("f", phase=PodPhase.FAILED), PodMetric(1), ResourceName.CPU, (0, 0, 0, 1)),
}


@pytest.mark.parametrize("case", GROUP_CASES.values(), ids=GROUP_CASES.keys())
def test_group_pods(case: tuple[PodSample, PodMetric | None, ResourceName,
                                tuple[int, int, int, int]]) -> None:
    """TestGroupPods (upstream's 10 m-old pod boundary cases: 9m54s vs 9m50s vs 9m)."""
    pod, metric, resource, expected = case
    metrics = {pod.name: metric} if metric is not None else {}
    groups = group_pods([pod], metrics, resource, NOW, TEST_CONFIG)
    got = (groups.ready_count, len(groups.unready), len(groups.missing), len(groups.ignored))
    assert got == expected


def test_homogeneous_fast_path_matches_per_pod_path() -> None:
    """The twin's count-only path gives the per-pod path's answer on random homogeneous pods."""
    rng = np.random.default_rng(7)
    for _ in range(3000):
        ready, unready, missing = (int(x) for x in rng.integers(0, 12, size=3))
        if ready == 0:
            ready = 1
        request = int(rng.choice([250, 500, 1000, 2000]))
        usage = int(rng.integers(0, 3 * request))
        target = int(rng.choice([30, 50, 70, 100, 150, 300]))
        current = ready + unready + missing + int(rng.integers(-2, 3))
        pods = [PodSample(f"r{i}", request_milli=request) for i in range(ready)]
        pods += [PodSample(f"u{i}", phase=PodPhase.PENDING, request_milli=request)
                 for i in range(unready)]
        pods += [PodSample(f"m{i}", request_milli=request) for i in range(missing)]
        metrics = {f"r{i}": PodMetric(usage) for i in range(ready)}
        slow = resource_replicas(current, target, pods, metrics, NOW, TEST_CONFIG)
        fast = homogeneous_resource_replicas(
            current, target, HomogeneousPods(ready, unready, missing, usage, request), TOL)
        assert fast == slow


# TestReplicaCalcConfigurableTolerance (upstream case names): Tolerances(scale_down, scale_up)
# per HPA (the HPAConfigurableTolerance feature); requests 0.9/1.0/1.1 CPU, target 100%.
CONFIGURABLE_TOLERANCE = {
    "Outside of a 0% tolerance": (Tolerances(0.0, 0.0), (909, 1010, 1111), 4, 101),
    "Within a 200% scale-up tolerance": (Tolerances(0.1, 2.0), (1890, 1910, 1900), 3, 190),
    "Outside 8% scale-up tolerance (and superfuous scale-down tolerance)": (
        Tolerances(2.0, 0.08), (1100, 1080, 1090), 4, 109),
    "Within a 36% scale-down tolerance": (Tolerances(0.36, 0.1), (660, 640, 650), 3, 65),
    "Outside a 34% scale-down tolerance": (Tolerances(0.34, 0.1), (660, 640, 650), 2, 65),
}


@pytest.mark.parametrize("case", CONFIGURABLE_TOLERANCE.values(),
                         ids=[f"TestReplicaCalcConfigurableTolerance/{k}"
                              for k in CONFIGURABLE_TOLERANCE])
def test_configurable_tolerance(case: tuple[Tolerances, tuple[int, ...], int, int]) -> None:
    tolerances, levels, expected, utilization = case
    pods, metrics = build(Case(3, expected, (900, 1000, 1100), levels, 100, utilization, 0))
    config = CalculatorConfig(tolerances, 120.0, 10.0)
    out = resource_replicas(3, 100, pods, metrics, NOW, config)
    assert (out.replicas, out.utilization_percent) == (expected, utilization)
    assert out.raw_average_milli == CONTAINERS * sum(levels) // len(levels)  # expectedValue


ASYMMETRIC = Tolerances(0.1, 0.01)


def test_configurable_tolerance_cm() -> None:
    """TestReplicaCalcConfigurableToleranceCM: 20,666 average over a 20,000 target, 1% up."""
    pods = [PodSample(f"p{i}") for i in range(3)]
    metrics = {f"p{i}": PodMetric(v) for i, v in enumerate((20000, 21000, 21000))}
    config = CalculatorConfig(ASYMMETRIC, 120.0, 10.0)
    out = pods_metric_replicas(3, 20000, pods, metrics, NOW, config)
    assert (out.replicas, out.usage_milli) == (4, 20666)


@pytest.mark.parametrize(
    ("kind", "current", "target", "values", "expected", "usage"),
    [
        ("object", 3, 20000, (20666,), 4, 20666),
        ("object-per-pod", 4, 5000, (20208,), 5, 5052),
        ("external", 3, 8800, (8900,), 4, 8900),
        ("external-per-pod", 3, 2800, (8600,), 4, 2867),
    ],
    ids=["TestReplicaCalcConfigurableToleranceCMObject",
         "TestReplicaCalcConfigurableTolerancePerPodCMObject",
         "TestReplicaCalcConfigurableToleranceCMExternal",
         "TestReplicaCalcConfigurableTolerancePerPodCMExternal"],
)
def test_configurable_tolerance_object_and_external(kind: str, current: int, target: int,
                                                    values: tuple[int, ...], expected: int,
                                                    usage: int) -> None:
    if kind == "object":
        out = object_metric_replicas(current, target, values[0], current, ASYMMETRIC)
    elif kind == "object-per-pod":
        out = object_per_pod_metric_replicas(current, target, values[0], ASYMMETRIC)
    elif kind == "external":
        out = external_metric_replicas(current, target, values, current, ASYMMETRIC)
    else:
        out = external_per_pod_metric_replicas(current, target, values, ASYMMETRIC)
    assert (out.replicas, out.usage_milli) == (expected, usage)

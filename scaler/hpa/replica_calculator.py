"""The Kubernetes HPA replica calculator, as pure functions.

A port of the semantics of `pkg/controller/podautoscaler/replica_calculator.go` (and the ratio
helpers of its `metrics/utilization.go`): the same integer arithmetic on milli-values, the same
tolerance band, the same handling of unready, missing and ignored pods, and the same guards
against a rebalance that would flip the scale direction. Time is injected as `now_seconds`.

Two input forms give identical results (tests/scaler check it):
- per-pod: `PodSample` + `PodMetric` records, for table tests and an in-cluster adapter;
- `HomogeneousPods`: counts only, for the twin, whose pods of one service share one request and
  one utilization (no per-pod Python objects on the hot path).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from scaler.errors import InvalidSpecError, MetricsUnavailableError


class ResourceName(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"


class PodPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Tolerances:
    """Usage ratios in [1 - scale_down, 1 + scale_up] keep the current replica count."""

    scale_down: float = 0.1
    scale_up: float = 0.1

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True)
class CalculatorConfig:
    """kube-controller-manager flags (defaults: tolerance 0.1, CPU init 5 min, readiness 30 s)."""

    tolerances: Tolerances = field(default_factory=Tolerances)
    cpu_initialization_period_seconds: float = 300.0
    initial_readiness_delay_seconds: float = 30.0


@dataclass(frozen=True)
class PodSample:
    """One pod as the calculator sees it. `ready` is the PodReady condition (None: absent)."""

    name: str
    phase: PodPhase = PodPhase.RUNNING
    ready: bool | None = True
    ready_transition_seconds: float = 0.0
    start_seconds: float | None = 0.0
    request_milli: int | None = 1000
    deleted: bool = False


@dataclass(frozen=True)
class PodMetric:
    value_milli: int
    timestamp_seconds: float = 0.0
    window_seconds: float = 60.0


@dataclass(frozen=True)
class PodGroups:
    ready_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True)
class HomogeneousPods:
    """Pods that share one request and one usage: `ready` pods report `usage_milli` each."""

    ready: int
    unready: int = 0
    missing: int = 0
    usage_milli: int = 0
    request_milli: int = 1000


@dataclass(frozen=True)
class ResourceReplicas:
    replicas: int
    utilization_percent: int
    raw_average_milli: int


@dataclass(frozen=True)
class MetricReplicas:
    replicas: int
    usage_milli: int


@dataclass(frozen=True)
class _Totals:
    """Sums over the metric entries: `entries` matched a pod request, `count` is all of them."""

    metric_milli: int
    request_milli: int
    entries: int
    count: int

    def plus(self, metric_milli: int, request_milli: int, pods: int) -> _Totals:
        return _Totals(self.metric_milli + metric_milli, self.request_milli + request_milli,
                       self.entries + pods, self.count + pods)


@dataclass(frozen=True)
class _Extra:
    """Pods folded back in on a rebalance; `fallback_milli` is what missing pods count on a
    scale-down (their request x max(100%, target))."""

    count: int
    request_milli: int
    fallback_milli: int = 0


def group_pods(
    pods: Sequence[PodSample],
    metrics: Mapping[str, PodMetric],
    resource: ResourceName | None,
    now_seconds: float,
    config: CalculatorConfig,
) -> PodGroups:
    """Split pods into ready (counted), unready, missing (no metric) and ignored (deleted/failed).

    Unready only applies to CPU: a pod inside its CPU initialization period is unready if it is
    not ready or its sample predates one metric window after it became ready; after that period
    it is unready only if it is not ready and has never been ready.
    """
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleted or pod.phase is PodPhase.FAILED:
            ignored.add(pod.name)
            continue
        if pod.phase is PodPhase.PENDING:
            unready.add(pod.name)
            continue
        metric = metrics.get(pod.name)
        if metric is None:
            missing.add(pod.name)
            continue
        if resource is ResourceName.CPU and cpu_unready(pod, metric, now_seconds, config):
            unready.add(pod.name)
            continue
        ready += 1
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def cpu_unready(pod: PodSample, metric: PodMetric, now_seconds: float,
                config: CalculatorConfig) -> bool:
    """The CPU start-up filter: inside its CPU initialization period a pod counts only once it
    is ready and its sample window starts after it became ready; later, only a pod that never
    became ready within the initial readiness delay is left out."""
    if pod.ready is None or pod.start_seconds is None:
        return True
    if pod.start_seconds + config.cpu_initialization_period_seconds > now_seconds:
        fresh_after = pod.ready_transition_seconds + metric.window_seconds
        return (not pod.ready) or metric.timestamp_seconds < fresh_after
    never_ready = pod.start_seconds + config.initial_readiness_delay_seconds
    return (not pod.ready) and never_ready > pod.ready_transition_seconds


def _utilization(totals: _Totals, target_percent: int) -> tuple[float, int, int]:
    if totals.request_milli == 0:
        raise MetricsUnavailableError("no metrics returned matched known pods")
    utilization = (totals.metric_milli * 100) // totals.request_milli
    raw_average = totals.metric_milli // totals.entries
    return utilization / target_percent, utilization, raw_average


def _rebalanced(current: int, ratio: float, new_ratio: float, count: int,
                tolerances: Tolerances) -> int:
    """Upstream's last step: keep `current` if the recomputed ratio is within tolerance or
    flips the direction, or if the new pod count would move replicas the other way."""
    flips = (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio)
    if tolerances.is_within(new_ratio) or flips:
        return current
    replicas = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def _resource_core(current: int, target_percent: int, tolerances: Tolerances, ready_count: int,
                   base: _Totals, missing: _Extra, unready: _Extra) -> ResourceReplicas:
    ratio, utilization, raw = _utilization(base, target_percent)
    scale_up_with_unready = unready.count > 0 and ratio > 1.0
    if not scale_up_with_unready and missing.count == 0:
        if tolerances.is_within(ratio):
            return ResourceReplicas(current, utilization, raw)
        return ResourceReplicas(math.ceil(ratio * ready_count), utilization, raw)
    totals = base
    if missing.count > 0 and ratio != 1.0:
        fill = missing.fallback_milli if ratio < 1.0 else 0
        totals = totals.plus(fill, missing.request_milli, missing.count)
    if scale_up_with_unready:
        totals = totals.plus(0, unready.request_milli, unready.count)
    new_ratio, _, _ = _utilization(totals, target_percent)
    replicas = _rebalanced(current, ratio, new_ratio, totals.count, tolerances)
    return ResourceReplicas(replicas, utilization, raw)


def _requests(pods: Sequence[PodSample]) -> dict[str, int]:
    requests: dict[str, int] = {}
    for pod in pods:
        if pod.request_milli is None:
            raise InvalidSpecError(
                f"missing request for cpu in pod {pod.name!r}: set resources.requests.cpu"
            )
        requests[pod.name] = pod.request_milli
    return requests


def resource_replicas(
    current_replicas: int,
    target_utilization_percent: int,
    pods: Sequence[PodSample],
    metrics: Mapping[str, PodMetric],
    now_seconds: float,
    config: CalculatorConfig,
    resource: ResourceName = ResourceName.CPU,
) -> ResourceReplicas:
    """Replicas for a Resource metric with a Utilization target (GetResourceReplicas)."""
    if not pods:
        raise MetricsUnavailableError("no pods returned by selector while calculating replicas")
    groups = group_pods(pods, metrics, resource, now_seconds, config)
    dropped = groups.unready | groups.ignored
    kept = {name: m.value_milli for name, m in metrics.items() if name not in dropped}
    if not kept:
        raise MetricsUnavailableError("did not receive metrics for targeted pods (pods unready)")
    requests = _requests(pods)
    matched = [name for name in kept if name in requests]
    base = _Totals(sum(kept[n] for n in matched), sum(requests[n] for n in matched),
                   len(matched), len(kept))
    fallback = max(100, target_utilization_percent)
    missing = _Extra(len(groups.missing), sum(requests[n] for n in groups.missing),
                     sum(requests[n] * fallback // 100 for n in groups.missing))
    unready = _Extra(len(groups.unready), sum(requests[n] for n in groups.unready))
    return _resource_core(current_replicas, target_utilization_percent, config.tolerances,
                          groups.ready_count, base, missing, unready)


def homogeneous_resource_replicas(
    current_replicas: int,
    target_utilization_percent: int,
    pods: HomogeneousPods,
    tolerances: Tolerances,
) -> ResourceReplicas:
    """Same result as `resource_replicas` for pods sharing one request and one usage."""
    if pods.ready + pods.unready + pods.missing == 0:
        raise MetricsUnavailableError("no pods returned by selector while calculating replicas")
    if pods.ready == 0:
        raise MetricsUnavailableError("did not receive metrics for targeted pods (pods unready)")
    request = pods.request_milli
    base = _Totals(pods.ready * pods.usage_milli, pods.ready * request, pods.ready, pods.ready)
    fallback = request * max(100, target_utilization_percent) // 100
    missing = _Extra(pods.missing, pods.missing * request, pods.missing * fallback)
    unready = _Extra(pods.unready, pods.unready * request)
    return _resource_core(current_replicas, target_utilization_percent, tolerances,
                          pods.ready, base, missing, unready)


def pods_metric_replicas(
    current_replicas: int,
    target_average_milli: int,
    pods: Sequence[PodSample],
    metrics: Mapping[str, PodMetric],
    now_seconds: float,
    config: CalculatorConfig,
) -> MetricReplicas:
    """Replicas for a Pods metric with an AverageValue target (calcPlainMetricReplicas)."""
    if not pods:
        raise MetricsUnavailableError("no pods returned by selector while calculating replicas")
    groups = group_pods(pods, metrics, None, now_seconds, config)
    dropped = groups.unready | groups.ignored
    kept = [m.value_milli for name, m in metrics.items() if name not in dropped]
    if not kept:
        raise MetricsUnavailableError("did not receive metrics for targeted pods (pods unready)")
    total, count = sum(kept), len(kept)
    usage = total // count
    ratio = usage / target_average_milli
    tolerances = config.tolerances
    scale_up_with_unready = len(groups.unready) > 0 and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(ratio):
            return MetricReplicas(current_replicas, usage)
        return MetricReplicas(math.ceil(ratio * groups.ready_count), usage)
    if groups.missing and ratio != 1.0:
        total += len(groups.missing) * (target_average_milli if ratio < 1.0 else 0)
        count += len(groups.missing)
    if scale_up_with_unready:
        count += len(groups.unready)
    new_ratio = (total // count) / target_average_milli
    return MetricReplicas(_rebalanced(current_replicas, ratio, new_ratio, count, tolerances), usage)


def ready_pod_count(pods: Sequence[PodSample]) -> int:
    """Running pods whose PodReady condition is true (getReadyPodsCount)."""
    return sum(1 for p in pods if p.phase is PodPhase.RUNNING and p.ready is True)


def _usage_ratio_replicas(current: int, ratio: float, ready_pods: int,
                          tolerances: Tolerances) -> int:
    if current == 0:
        return math.ceil(ratio)  # scale from zero ignores ready pods and tolerance
    if tolerances.is_within(ratio):
        return current
    return math.ceil(ratio * ready_pods)


def object_metric_replicas(current_replicas: int, target_milli: int, usage_milli: int,
                           ready_pods: int, tolerances: Tolerances) -> MetricReplicas:
    """Object metric, Value target (GetObjectMetricReplicas)."""
    ratio = usage_milli / target_milli
    replicas = _usage_ratio_replicas(current_replicas, ratio, ready_pods, tolerances)
    return MetricReplicas(replicas, usage_milli)


def object_per_pod_metric_replicas(status_replicas: int, target_average_milli: int,
                                   usage_milli: int, tolerances: Tolerances) -> MetricReplicas:
    """Object metric, AverageValue target (GetObjectPerPodMetricReplicas); also the External
    AverageValue path once the series are summed."""
    replicas = status_replicas
    if status_replicas == 0:
        ratio = math.inf
    else:
        ratio = usage_milli / (target_average_milli * status_replicas)
    if not tolerances.is_within(ratio):
        replicas = math.ceil(usage_milli / target_average_milli)
    average = math.ceil(usage_milli / status_replicas) if status_replicas else usage_milli
    return MetricReplicas(replicas, average)


def external_metric_replicas(current_replicas: int, target_milli: int,
                             values_milli: Sequence[int], ready_pods: int,
                             tolerances: Tolerances) -> MetricReplicas:
    """External metric, Value target: the series are summed (GetExternalMetricReplicas)."""
    return object_metric_replicas(current_replicas, target_milli, sum(values_milli), ready_pods,
                                  tolerances)


def external_per_pod_metric_replicas(status_replicas: int, target_average_milli: int,
                                     values_milli: Sequence[int],
                                     tolerances: Tolerances) -> MetricReplicas:
    """External metric, AverageValue target (GetExternalPerPodMetricReplicas): KEDA's default."""
    return object_per_pod_metric_replicas(status_replicas, target_average_milli,
                                          sum(values_milli), tolerances)

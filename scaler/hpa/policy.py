"""The Kubernetes HorizontalPodAutoscaler controller as a pure, clock-injected state machine.

`HorizontalController.sync` is one pass of upstream's `reconcileAutoscaler`: min/max guards,
one proposal per metric (max wins; failed metrics only block a scale-down), then `behavior`
(stabilization windows and rate-limit policies, `scaler/hpa/behavior.py`) or, without a
behavior, the legacy normalization. Metric readings are plain values handed in by the caller
(the twin here, Prometheus/metrics-server adapters in-cluster); the arithmetic is in
`scaler/hpa/replica_calculator.py`. `HpaPolicy` runs one controller per service on the twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from envs.observation import Observation
from scaler.errors import ScalerError
from scaler.hpa.behavior import (
    Behavior,
    Bounds,
    Reason,
    ScalingHistory,
    convert_with_behavior_rate,
    convert_with_rules,
)
from scaler.hpa.replica_calculator import (
    CalculatorConfig,
    HomogeneousPods,
    MetricReplicas,
    PodMetric,
    ResourceReplicas,
    external_metric_replicas,
    external_per_pod_metric_replicas,
    homogeneous_resource_replicas,
)
from scaler.hpa.startup_filter import ReadyCohorts
from scaler.policy import PolicyContext

SYNC_PERIOD_SECONDS = 15


class ConditionType(StrEnum):
    ABLE_TO_SCALE = "AbleToScale"
    SCALING_ACTIVE = "ScalingActive"
    SCALING_LIMITED = "ScalingLimited"


class TargetType(StrEnum):
    VALUE = "Value"
    AVERAGE_VALUE = "AverageValue"


@dataclass(frozen=True)
class Condition:
    type: ConditionType
    status: bool
    reason: Reason


@dataclass(frozen=True)
class HpaSpec:
    """`spec` of one HPA. `behavior=None` selects upstream's legacy normalization."""

    min_replicas: int
    max_replicas: int
    behavior: Behavior | None = field(default_factory=Behavior)


@dataclass(frozen=True)
class ControllerConfig:
    calculator: CalculatorConfig = field(default_factory=CalculatorConfig)
    downscale_stabilization_seconds: int = 300
    sync_period_seconds: int = SYNC_PERIOD_SECONDS


@dataclass(frozen=True)
class ScaleState:
    """The target's scale subresource: spec/status replicas and its ready pods."""

    spec_replicas: int
    status_replicas: int
    ready_pods: int


@dataclass(frozen=True)
class ResourceReading:
    """A Resource metric with a Utilization target, sampled from homogeneous pods."""

    target_utilization_percent: int
    pods: HomogeneousPods
    name: str = "cpu"


@dataclass(frozen=True)
class ExternalReading:
    """An External metric; `values_milli=None` means the metrics API failed this sync."""

    name: str
    target_type: TargetType
    target_milli: int
    values_milli: tuple[int, ...] | None


Reading = ResourceReading | ExternalReading


@dataclass(frozen=True)
class SyncResult:
    desired_replicas: int
    rescaled: bool
    conditions: tuple[Condition, ...]
    metric_replicas: int | None = None

    def condition(self, kind: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type is kind), None)


def _proposal(reading: Reading, scale: ScaleState, config: CalculatorConfig) -> int:
    tolerances = config.tolerances
    if isinstance(reading, ResourceReading):
        out: ResourceReplicas | MetricReplicas = homogeneous_resource_replicas(
            scale.spec_replicas, reading.target_utilization_percent, reading.pods, tolerances)
        return out.replicas
    if reading.values_milli is None:
        raise ScalerError(f"unable to get external metric {reading.name!r}")
    if reading.target_type is TargetType.AVERAGE_VALUE:
        out = external_per_pod_metric_replicas(scale.status_replicas, reading.target_milli,
                                               reading.values_milli, tolerances)
    else:
        out = external_metric_replicas(scale.spec_replicas, reading.target_milli,
                                       reading.values_milli, scale.ready_pods, tolerances)
    return out.replicas


def _failure_reason(reading: Reading) -> Reason:
    if isinstance(reading, ResourceReading):
        return Reason.FAILED_GET_RESOURCE_METRIC
    return Reason.FAILED_GET_EXTERNAL_METRIC


class HorizontalController:
    """The controller's view of one HPA: its spec, config and recommendation/event history."""

    def __init__(self, spec: HpaSpec, config: ControllerConfig | None = None,
                 history: ScalingHistory | None = None) -> None:
        self.spec = spec
        self.config = config or ControllerConfig()
        self.history = history or ScalingHistory()
        self._conditions: dict[ConditionType, Condition] = {}

    def _set(self, kind: ConditionType, status: bool, reason: Reason) -> None:
        self._conditions[kind] = Condition(kind, status, reason)

    def compute_replicas_for_metrics(self, scale: ScaleState,
                                     readings: Sequence[Reading]) -> int | None:
        """computeReplicasForMetrics: the max proposal, or None if the HPA must not act."""
        replicas, invalid, first_failure = 0, 0, None
        for reading in readings:
            try:
                proposal = _proposal(reading, scale, self.config.calculator)
            except ScalerError:
                invalid += 1
                first_failure = first_failure or _failure_reason(reading)
                continue
            if replicas == 0 or proposal > replicas:
                replicas = proposal
        if invalid >= len(readings) or (invalid > 0 and replicas < scale.spec_replicas):
            self._set(ConditionType.SCALING_ACTIVE, False,
                      first_failure or Reason.FAILED_GET_RESOURCE_METRIC)
            return None
        self._set(ConditionType.SCALING_ACTIVE, True, Reason.VALID_METRIC_FOUND)
        return replicas

    def _normalize(self, current: int, desired: int, now_seconds: float) -> int:
        bounds = Bounds(self.spec.min_replicas, self.spec.max_replicas)
        behavior = self.spec.behavior
        if behavior is None:
            window = self.config.downscale_stabilization_seconds
            stabilized = self.history.stabilize_legacy(desired, window, now_seconds)
            reason = Reason.SCALE_DOWN_STABILIZED
            replicas, limit_reason = convert_with_rules(current, stabilized, bounds)
        else:
            down_window = behavior.scale_down.stabilization_window_seconds
            if down_window is None:
                down_window = self.config.downscale_stabilization_seconds
            stabilized, reason = self.history.stabilize_with_behaviors(
                current, desired, behavior.scale_up.stabilization_window_seconds or 0,
                down_window, now_seconds)
            replicas, limit_reason = convert_with_behavior_rate(
                current, stabilized, bounds, behavior, self.history.scale_up_events,
                self.history.scale_down_events, now_seconds)
        if stabilized != desired:
            self._set(ConditionType.ABLE_TO_SCALE, True, reason)
        else:
            self._set(ConditionType.ABLE_TO_SCALE, True, Reason.READY_FOR_NEW_SCALE)
        self._set(ConditionType.SCALING_LIMITED, replicas != stabilized, limit_reason)
        return replicas

    def sync(self, now_seconds: float, scale: ScaleState,
             readings: Sequence[Reading]) -> SyncResult:
        """One reconcileAutoscaler pass at `now_seconds`."""
        self._set(ConditionType.ABLE_TO_SCALE, True, Reason.SUCCEEDED_GET_SCALE)
        current = scale.spec_replicas
        self.history.record_initial(current, now_seconds)
        proposal: int | None = None
        if current == 0 and self.spec.min_replicas != 0:
            self._set(ConditionType.SCALING_ACTIVE, False, Reason.SCALING_DISABLED)
            desired, rescale = 0, False
        elif current > self.spec.max_replicas:
            desired, rescale = self.spec.max_replicas, True
        elif current < self.spec.min_replicas:
            desired, rescale = self.spec.min_replicas, True
        else:
            proposal = self.compute_replicas_for_metrics(scale, readings)
            if proposal is None:
                return SyncResult(current, False, tuple(self._conditions.values()))
            desired = self._normalize(current, max(proposal, 0), now_seconds)
            rescale = desired != current
        if rescale:
            self._set(ConditionType.ABLE_TO_SCALE, True, Reason.SUCCEEDED_RESCALE)
            if self.spec.behavior is not None:
                self.history.store_scale_event(self.spec.behavior, current, desired, now_seconds)
        else:
            desired = current
        return SyncResult(desired, rescale, tuple(self._conditions.values()), proposal)


@dataclass(frozen=True)
class PodCounts:
    """Pods of one workload: `ready` serve and report metrics, `unready` are starting."""

    ready: int
    unready: int

    def resized(self, spec_replicas: int) -> PodCounts:
        """The ReplicaSet's answer to a new spec: create unready pods, or delete unready pods
        first and ready ones after (upstream's deletion ranking)."""
        total = self.ready + self.unready
        if spec_replicas >= total:
            return PodCounts(self.ready, self.unready + spec_replicas - total)
        drop = total - spec_replicas
        from_unready = min(self.unready, drop)
        return PodCounts(self.ready - (drop - from_unready), self.unready - from_unready)


ReadingsFn = Callable[[PodCounts, float], Sequence[Reading]]


def run_syncs(controller: HorizontalController, start_seconds: float, syncs: int,
              spec_replicas: int, pods: PodCounts, readings: ReadingsFn) -> int:
    """Run `syncs` controller passes 15 s apart on one metric sample; each pass sees the spec
    left by the previous one, and pods it created count as unready. Returns the final spec."""
    period = controller.config.sync_period_seconds
    spec = spec_replicas
    for k in range(syncs):
        pods = pods.resized(spec)
        now = start_seconds + k * period
        scale = ScaleState(spec, pods.ready + pods.unready, pods.ready)
        spec = controller.sync(now, scale, readings(pods, now)).desired_replicas
    return spec


def syncs_per_tick(tick_seconds: int, sync_period_seconds: int = SYNC_PERIOD_SECONDS) -> int:
    return max(1, tick_seconds // sync_period_seconds)


class HpaPolicy:
    """One CPU-utilization HPA per service (target 70% of the CPU request by default).

    `behavior=None` (the default) is the HPA `kubectl autoscale` creates: no `behavior:`, so
    upstream's legacy normalization (300 s scale-down stabilization, at most max(2x, 4) replicas
    per sync); pass a `Behavior` (e.g. `Behavior()`, autoscaling/v2's defaults) for the
    behavior path. CPU samples go through the start-up filter (`scaler/hpa/startup_filter.py`):
    the twin's CPU reading of a tick is a sample over that tick.
    """

    def __init__(self, target_cpu_utilization: float = 0.7, behavior: Behavior | None = None,
                 config: ControllerConfig | None = None, *, name: str = "hpa") -> None:
        self.name = name
        self.target_percent = round(target_cpu_utilization * 100)
        self.behavior = behavior
        self.config = config or ControllerConfig()
        self._controllers: list[HorizontalController] = []
        self._requests_milli: list[int] = []
        self._cohorts: list[ReadyCohorts] = []
        self._ctx: PolicyContext | None = None

    def reset(self, ctx: PolicyContext) -> None:
        self._ctx = ctx
        self._controllers = [
            HorizontalController(HpaSpec(s.min_replicas, s.max_replicas, self.behavior),
                                 self.config)
            for s in ctx.graph.services
        ]
        self._requests_milli = [round(s.cpu_request_millicores) for s in ctx.graph.services]
        self._cohorts = [ReadyCohorts(s.startup_seconds) for s in ctx.graph.services]

    def decide(self, obs: Observation) -> np.ndarray:
        if self._ctx is None:
            raise ScalerError("HpaPolicy.decide called before reset(ctx)")
        start = (obs.now - self._ctx.start).total_seconds()
        tick = self._ctx.tick_seconds
        syncs = syncs_per_tick(tick, self.config.sync_period_seconds)
        desired = np.empty(len(self._controllers), dtype=np.int64)
        metric = PodMetric(0, timestamp_seconds=start, window_seconds=tick)  # the tick's mean
        calc = self.config.calculator
        for i, controller in enumerate(self._controllers):
            request = self._requests_milli[i]
            usage = round(float(obs.cpu_utilization[i]) * request)
            cohorts = self._cohorts[i]
            # pods ready before the run are long past start-up; new ones since the tick began
            cohorts.update(int(obs.ready[i]), start - tick if obs.tick >= 0 else -math.inf)

            def readings(pods: PodCounts, now: float, usage: int = usage, request: int = request,
                         cohorts: ReadyCohorts = cohorts) -> Sequence[Reading]:
                held = min(cohorts.cpu_unready(now, metric, calc), pods.ready)
                sample = HomogeneousPods(pods.ready - held, pods.unready + held, 0, usage,
                                         request)
                return (ResourceReading(self.target_percent, sample),)

            pods = PodCounts(int(obs.ready[i]), int(obs.pending[i]))
            desired[i] = run_syncs(controller, start, syncs, int(obs.desired[i]), pods, readings)
        return desired

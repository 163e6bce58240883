"""HPA scaling behavior: stabilization windows and rate-limit policies, with their histories.

A port of the normalization half of `pkg/controller/podautoscaler/horizontal.go`:
`stabilizeRecommendationWithBehaviors`, `convertDesiredReplicasWithBehaviorRate` and the scale
event store used by the rate-limit policies, plus the legacy path the controller runs when an
HPA has no `behavior` (`stabilizeRecommendation` + `convertDesiredReplicasWithRules`). The
recommendation and event histories keep upstream's slot reuse, so their lengths match upstream.
Time is injected as `now_seconds`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum


class PolicyType(StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


class Reason(StrEnum):
    """Condition reasons, spelled as upstream sets them."""

    SUCCEEDED_GET_SCALE = "SucceededGetScale"
    SUCCEEDED_RESCALE = "SucceededRescale"
    READY_FOR_NEW_SCALE = "ReadyForNewScale"
    SCALE_UP_STABILIZED = "ScaleUpStabilized"
    SCALE_DOWN_STABILIZED = "ScaleDownStabilized"
    VALID_METRIC_FOUND = "ValidMetricFound"
    SCALING_DISABLED = "ScalingDisabled"
    FAILED_GET_RESOURCE_METRIC = "FailedGetResourceMetric"
    FAILED_GET_EXTERNAL_METRIC = "FailedGetExternalMetric"
    DESIRED_WITHIN_RANGE = "DesiredWithinRange"
    TOO_FEW_REPLICAS = "TooFewReplicas"
    TOO_MANY_REPLICAS = "TooManyReplicas"
    SCALE_UP_LIMIT = "ScaleUpLimit"
    SCALE_DOWN_LIMIT = "ScaleDownLimit"


@dataclass(frozen=True)
class ScalingPolicy:
    type: PolicyType
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    """One direction of `spec.behavior`. A None window means the controller's default (300 s,
    `--horizontal-pod-autoscaler-downscale-stabilization`)."""

    stabilization_window_seconds: int | None
    select_policy: SelectPolicy
    policies: tuple[ScalingPolicy, ...]


def default_scale_up_rules() -> ScalingRules:
    """autoscaling/v2 defaults: no window; max of +4 pods and +100% per 15 s."""
    return ScalingRules(0, SelectPolicy.MAX, (
        ScalingPolicy(PolicyType.PODS, 4, 15), ScalingPolicy(PolicyType.PERCENT, 100, 15)))


def default_scale_down_rules() -> ScalingRules:
    """autoscaling/v2 defaults: the controller's 300 s window; -100% per 15 s."""
    return ScalingRules(None, SelectPolicy.MAX, (ScalingPolicy(PolicyType.PERCENT, 100, 15),))


@dataclass(frozen=True)
class Behavior:
    scale_up: ScalingRules = field(default_factory=default_scale_up_rules)
    scale_down: ScalingRules = field(default_factory=default_scale_down_rules)


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    timestamp_seconds: float


@dataclass(frozen=True)
class ScaleEvent:
    replica_change: int
    timestamp_seconds: float
    outdated: bool = False


def replicas_change_per_period(period_seconds: int, events: Sequence[ScaleEvent],
                               now_seconds: float) -> int:
    """Replicas added (or removed) by events strictly newer than `now - period`."""
    cutoff = now_seconds - period_seconds
    return sum(e.replica_change for e in events if e.timestamp_seconds > cutoff)


def _period_start(current: int, policy: ScalingPolicy, up: Sequence[ScaleEvent],
                  down: Sequence[ScaleEvent], now_seconds: float) -> int:
    added = replicas_change_per_period(policy.period_seconds, up, now_seconds)
    removed = replicas_change_per_period(policy.period_seconds, down, now_seconds)
    return current - added + removed


MAX_INT32 = 2**31 - 1  # replica counts are int32 upstream; limits saturate instead of wrapping


def scale_up_limit(current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent],
                   rules: ScalingRules, now_seconds: float) -> int:
    """calculateScaleUpLimitWithScalingRules: the most replicas the policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    pick = min if rules.select_policy is SelectPolicy.MIN else max
    result = math.inf if rules.select_policy is SelectPolicy.MIN else -math.inf
    for policy in rules.policies:
        start = _period_start(current, policy, up, down, now_seconds)
        if policy.type is PolicyType.PODS:
            proposed = start + policy.value
        else:
            proposed = math.ceil(start * (1 + policy.value / 100))
        result = pick(result, min(proposed, MAX_INT32))
    return int(result)


def scale_down_limit(current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent],
                     rules: ScalingRules, now_seconds: float) -> int:
    """calculateScaleDownLimitWithBehaviors: the fewest replicas the policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    pick = max if rules.select_policy is SelectPolicy.MIN else min
    result = -math.inf if rules.select_policy is SelectPolicy.MIN else math.inf
    for policy in rules.policies:
        start = _period_start(current, policy, up, down, now_seconds)
        if policy.type is PolicyType.PODS:
            proposed = start - policy.value
        else:
            proposed = int(start * (1 - policy.value / 100))  # Go's int32() truncates
        result = pick(result, proposed)
    return int(result)


@dataclass(frozen=True)
class Bounds:
    min_replicas: int
    max_replicas: int


def convert_with_behavior_rate(
    current: int, desired: int, bounds: Bounds, behavior: Behavior,
    up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], now_seconds: float,
) -> tuple[int, Reason]:
    """convertDesiredReplicasWithBehaviorRate: clip to min/max and the rate-limit policies."""
    if desired > current:
        limit = max(scale_up_limit(current, up, down, behavior.scale_up, now_seconds), current)
        if bounds.max_replicas > limit:
            allowed, reason = limit, Reason.SCALE_UP_LIMIT
        else:
            allowed, reason = bounds.max_replicas, Reason.TOO_MANY_REPLICAS
        if desired > allowed:
            return allowed, reason
    elif desired < current:
        limit = min(scale_down_limit(current, up, down, behavior.scale_down, now_seconds), current)
        if bounds.min_replicas < limit:
            allowed, reason = limit, Reason.SCALE_DOWN_LIMIT
        else:
            allowed, reason = bounds.min_replicas, Reason.TOO_FEW_REPLICAS
        if desired < allowed:
            return allowed, reason
    return desired, Reason.DESIRED_WITHIN_RANGE


SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


def convert_with_rules(current: int, desired: int, bounds: Bounds) -> tuple[int, Reason]:
    """convertDesiredReplicasWithRules, the legacy path (no `behavior`): at most
    max(2 x current, 4) replicas per sync."""
    scale_up_cap = min(int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM)),
                       MAX_INT32)
    if bounds.max_replicas > scale_up_cap:
        maximum, reason = scale_up_cap, Reason.SCALE_UP_LIMIT
    else:
        maximum, reason = bounds.max_replicas, Reason.TOO_MANY_REPLICAS
    if desired < bounds.min_replicas:
        return bounds.min_replicas, Reason.TOO_FEW_REPLICAS
    if desired > maximum:
        return maximum, reason
    return desired, Reason.DESIRED_WITHIN_RANGE


@dataclass
class ScalingHistory:
    """Per-HPA controller state: unstabilized recommendations and scale events (mutable)."""

    recommendations: list[Recommendation] = field(default_factory=list)
    scale_up_events: list[ScaleEvent] = field(default_factory=list)
    scale_down_events: list[ScaleEvent] = field(default_factory=list)

    def record_initial(self, current: int, now_seconds: float) -> None:
        if not self.recommendations:
            self.recommendations.append(Recommendation(current, now_seconds))

    def _record(self, desired: int, now_seconds: float, old_index: int | None) -> None:
        rec = Recommendation(desired, now_seconds)
        if old_index is None:
            self.recommendations.append(rec)
        else:
            self.recommendations[old_index] = rec

    def stabilize_with_behaviors(
        self, current: int, desired: int, up_window_seconds: int, down_window_seconds: int,
        now_seconds: float,
    ) -> tuple[int, Reason]:
        """stabilizeRecommendationWithBehaviors: clamp to [min over the up window, max over
        the down window], then record `desired` (reusing a slot older than both windows)."""
        up_cutoff = now_seconds - up_window_seconds
        down_cutoff = now_seconds - down_window_seconds
        up_rec, down_rec = desired, desired
        old_index: int | None = None
        for i, rec in enumerate(self.recommendations):
            if rec.timestamp_seconds > up_cutoff:
                up_rec = min(rec.replicas, up_rec)
            if rec.timestamp_seconds > down_cutoff:
                down_rec = max(rec.replicas, down_rec)
            if rec.timestamp_seconds < up_cutoff and rec.timestamp_seconds < down_cutoff:
                old_index = i
        recommendation = min(max(current, up_rec), down_rec)
        self._record(desired, now_seconds, old_index)
        reason = Reason.SCALE_UP_STABILIZED if desired >= current else Reason.SCALE_DOWN_STABILIZED
        return recommendation, reason

    def stabilize_legacy(self, desired: int, window_seconds: int, now_seconds: float) -> int:
        """stabilizeRecommendation: the max recommendation of the last `window_seconds`.

        A recommendation exactly `window_seconds` old is outdated: upstream compares it with a
        cutoff taken a moment later in the same sync (so with no window nothing is held)."""
        cutoff = now_seconds - window_seconds
        best = desired
        old_index: int | None = None
        for i, rec in enumerate(self.recommendations):
            if rec.timestamp_seconds <= cutoff:
                old_index = i
            elif rec.replicas > best:
                best = rec.replicas
        self._record(desired, now_seconds, old_index)
        return best

    def store_scale_event(self, behavior: Behavior, previous: int, new: int,
                          now_seconds: float) -> None:
        """storeScaleEvent: mark events older than the longest policy period outdated and reuse
        the last outdated slot for the new event."""
        up = new > previous
        events = self.scale_up_events if up else self.scale_down_events
        rules = behavior.scale_up if up else behavior.scale_down
        longest = max((p.period_seconds for p in rules.policies), default=0)
        cutoff = now_seconds - longest
        old_index: int | None = None
        for i, event in enumerate(events):
            if event.timestamp_seconds < cutoff:
                events[i] = replace(event, outdated=True)
            if events[i].outdated:
                old_index = i
        new_event = ScaleEvent(abs(new - previous), now_seconds)
        if old_index is None:
            events.append(new_event)
        else:
            events[old_index] = new_event

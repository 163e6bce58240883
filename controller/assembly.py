"""A PredictiveScaler spec -> the policies that decide for it (primary and reactive fallback).

Policies that forecast read the entry demand before `start` (`history_rps`, loaded from
Prometheus by the reconciler); `history_ticks_needed` says how much each one needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from controller.conditions import Reason
from controller.errors import ModelLoadError
from controller.model import load_rl_policy
from controller.spec import ScalerSpec
from envs.graph import ServiceGraph
from envs.observation import Slo
from envs.workload import Event
from scaler.forecast import HoltWinters, SeasonalNaive
from scaler.forecast_policy import ForecastPolicy, holt_winters, seasonal_naive
from scaler.guardrails import GuardedPolicy, Guardrails
from scaler.hpa.policy import ControllerConfig, HpaPolicy
from scaler.policy import Policy, PolicyContext
from scaler.prescale import EventFloor, PlannedEvent
from scaler.slo_floor import floor_policy


@dataclass(frozen=True)
class Unready:
    """Why the primary policy cannot decide, so the reactive rule does."""

    reason: Reason
    message: str


@dataclass
class Policies:
    primary: GuardedPolicy | None
    fallback: GuardedPolicy
    event_floor: EventFloor | None
    unready: Unready | None
    forecaster: ForecastPolicy | None = None  # the primary's forecast, for status


def reactive(spec: ScalerSpec) -> HpaPolicy:
    """The HPA rule on CPU, one sync per period, scale-down window = the cooldown."""
    config = ControllerConfig(
        downscale_stabilization_seconds=int(spec.behavior.cooldown_seconds),
        sync_period_seconds=max(1, int(spec.period_seconds)))
    return HpaPolicy(spec.policy.target_utilization, config=config)


def guardrails(spec: ScalerSpec, graph: ServiceGraph) -> Guardrails:
    by_service = {t.service: t for t in spec.targets}
    lo = tuple(by_service[s.name].min_replicas if s.name in by_service else s.min_replicas
               for s in graph.services)
    hi = tuple(by_service[s.name].max_replicas if s.name in by_service else s.max_replicas
               for s in graph.services)
    b = spec.behavior
    return Guardrails(max_step_up=b.max_step_up, max_step_up_pods=b.max_step_up_pods,
                      max_step_down=b.max_step_down, cooldown_seconds=b.cooldown_seconds,
                      reactive_floor=True, min_replicas=lo, max_replicas=hi)


def planned_events(spec: ScalerSpec, graph: ServiceGraph) -> tuple[PlannedEvent, ...]:
    default_lead = max(s.startup_seconds for s in graph.services) + 2 * spec.period_seconds
    return tuple(PlannedEvent(e.name, _naive(e.start), _naive(e.end), e.expected_uplift,
                              e.lead_seconds if e.lead_seconds is not None else default_lead)
                 for e in spec.events)


def _naive(t: datetime) -> datetime:
    """UTC without tzinfo, like every other time in the core."""
    if t.tzinfo is None:
        return t
    return (t - t.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]


def _inner(spec: ScalerSpec, ctx: PolicyContext,
           trusted_keys: Sequence[Ed25519PublicKey]) -> Policy:
    p = spec.policy
    if p.type == "rl":
        assert p.model is not None
        return load_rl_policy(p.model, ctx, trusted_keys)
    tick = tick_seconds(spec)
    if p.baseline == "holt-winters":
        return holt_winters(tick)
    if p.baseline == "seasonal-naive":
        return seasonal_naive(tick)
    return reactive(spec)


def tick_seconds(spec: ScalerSpec) -> int:
    return max(1, int(spec.period_seconds))


def history_ticks_needed(spec: ScalerSpec) -> int | None:
    """Ticks of entry demand the policy needs before it can decide; None: it reads none.

    The RL policy's forecast features use what there is (up to two weeks) and degrade to the
    current rate without it, so it needs none but gets what Prometheus holds.
    """
    p = spec.policy
    if p.type == "rl":
        return 0
    if p.baseline == "holt-winters":
        return HoltWinters(tick_seconds(spec)).min_history_ticks
    if p.baseline == "seasonal-naive":
        return SeasonalNaive(tick_seconds(spec)).min_history_ticks
    return None


def calendar(spec: ScalerSpec, graph: ServiceGraph) -> tuple[Event, ...]:
    """The announced events as the forecasters read them."""
    return tuple(Event(e.name, e.start, e.expected_uplift, 0.0,
                       (e.end - e.start).total_seconds(), 0.0)
                 for e in planned_events(spec, graph))


def context(spec: ScalerSpec, graph: ServiceGraph, start: datetime,
            history_rps: np.ndarray) -> PolicyContext:
    return PolicyContext(graph=graph, tick_seconds=tick_seconds(spec),
                         slo=Slo(spec.slo.p95_latency_ms, spec.slo.max_error_ratio), start=start,
                         history_rps=history_rps, calendar=calendar(spec, graph),
                         rng=np.random.default_rng(0))


def assemble(spec: ScalerSpec, graph: ServiceGraph, start: datetime, *,
             history_rps: np.ndarray | None = None, unready: Unready | None = None,
             trusted_keys: Sequence[Ed25519PublicKey] = ()) -> Policies:
    """The policies; with `unready` (the history could not be loaded or is too short) only
    the reactive fallback. `trusted_keys`: the controller's keys a model must be signed with
    (controller/model.py)."""
    g = guardrails(spec, graph)
    ctx = context(spec, graph, start, np.zeros(0) if history_rps is None else history_rps)
    fallback = GuardedPolicy(reactive(spec), g, floor=None, name="reactive-hpa")
    fallback.reset(ctx)
    if unready is not None:
        return Policies(None, fallback, None, unready)
    try:
        inner = _inner(spec, ctx, trusted_keys)
    except ModelLoadError as e:
        return Policies(None, fallback, None, Unready(Reason.MODEL_LOAD_FAILED, str(e)))
    floor = EventFloor(inner, planned_events(spec, graph), spec.policy.target_utilization)
    primary = GuardedPolicy(floor, g, floor=floor_policy(spec.behavior.floor, reactive(spec)),
                            name=inner.name if spec.policy.type == "baseline" else "rl")
    primary.reset(ctx)
    forecaster = inner if isinstance(inner, ForecastPolicy) else None
    return Policies(primary, fallback, floor, None, forecaster)

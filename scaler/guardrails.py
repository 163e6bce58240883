"""Guardrails around any policy: bounds, step limits, cooldown and a reactive floor.

Every period the inner policy proposes replicas; the guardrails then apply, in this order:
1. step limits relative to the current desired count: up to max(ceil(current x (1 +
   max_step_up)), current + max_step_up_pods), down to at least floor(current x (1 -
   max_step_down));
2. cooldown: no scale-down of a service within `cooldown_seconds` of its last scale-up;
3. the demand cap (optional): no growth beyond what `max_demand_multiple` x the demand that can
   be expected needs at 100% busy, that demand being the larger of the entry rate observed now
   and the history's ordinary daily peak, times the largest announced multiplier of an event
   running or starting within `demand_lookahead_seconds`; it never forces a scale-down (the cap
   is at least the current count), and it stops a forecast gone wrong on intermittent demand
   (closed hours, opening jumps) from asking for hundreds of replicas with no traffic;
4. the reactive floor (optional): never below what the HPA would ask for now, so a bad model can
   only add capacity;
5. hard bounds [min_replicas, max_replicas] (the graph's, unless given).
Each service records the last rule that changed its proposal (`ClipReason`), for the controller's
status, Events and decision log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np

from envs.daily_peak import median_daily_peak
from envs.observation import Observation
from scaler.policy import Policy, PolicyContext


class ClipReason(StrEnum):
    NONE = "AsProposed"
    STEP_UP = "MaxStepUp"
    STEP_DOWN = "MaxStepDown"
    COOLDOWN = "Cooldown"
    DEMAND_CAP = "DemandCap"
    REACTIVE_FLOOR = "ReactiveFloor"
    MIN_REPLICAS = "MinReplicas"
    MAX_REPLICAS = "MaxReplicas"


@dataclass(frozen=True)
class Guardrails:
    max_step_up: float = 1.0
    max_step_up_pods: int = 4
    max_step_down: float = 0.5
    cooldown_seconds: float = 300.0
    reactive_floor: bool = True
    max_demand_multiple: float | None = 4.0
    demand_lookahead_seconds: float = 3600.0
    min_replicas: tuple[int, ...] | None = None
    max_replicas: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.max_step_up < 0 or self.max_step_up_pods < 0:
            raise ValueError("guardrails: max_step_up and max_step_up_pods must be >= 0")
        if not 0 <= self.max_step_down <= 1:
            raise ValueError("guardrails: max_step_down must be within [0, 1]")
        if self.cooldown_seconds < 0:
            raise ValueError("guardrails: cooldown_seconds must be >= 0")
        if self.max_demand_multiple is not None and self.max_demand_multiple <= 0:
            raise ValueError("guardrails: max_demand_multiple must be > 0 (or None)")


@dataclass(frozen=True)
class GuardedDecision:
    proposed: np.ndarray
    desired: np.ndarray
    reasons: tuple[ClipReason, ...]


def _mark(reasons: list[ClipReason], changed: np.ndarray, reason: ClipReason) -> None:
    for i in np.flatnonzero(changed):
        reasons[i] = reason


def apply_guardrails(
    g: Guardrails,
    proposed: np.ndarray,
    current: np.ndarray,
    floor: np.ndarray | None,
    in_cooldown: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    demand_cap: np.ndarray | None = None,
) -> GuardedDecision:
    """The pure rule: what the guardrails make of a proposal, and why."""
    cur = np.asarray(current, dtype=int)
    want = np.rint(np.asarray(proposed, dtype=float)).astype(int)
    reasons = [ClipReason.NONE] * len(want)
    up = np.maximum(np.ceil(cur * (1.0 + g.max_step_up)).astype(int), cur + g.max_step_up_pods)
    down = np.floor(cur * (1.0 - g.max_step_down) + 1e-9).astype(int)
    out = np.minimum(want, up)
    _mark(reasons, out != want, ClipReason.STEP_UP)
    step = np.maximum(out, down)
    _mark(reasons, step != out, ClipReason.STEP_DOWN)
    cooled = np.where(in_cooldown & (step < cur), cur, step)
    _mark(reasons, cooled != step, ClipReason.COOLDOWN)
    out = cooled
    if demand_cap is not None:
        capped = np.minimum(out, np.maximum(np.asarray(demand_cap, dtype=int), cur))
        _mark(reasons, capped != out, ClipReason.DEMAND_CAP)
        out = capped
    if floor is not None:
        floored = np.maximum(out, np.asarray(floor, dtype=int))
        _mark(reasons, floored != out, ClipReason.REACTIVE_FLOOR)
        out = floored
    lo, hi = bounds
    bounded = np.clip(out, lo, hi)
    _mark(reasons, (bounded != out) & (bounded == lo), ClipReason.MIN_REPLICAS)
    _mark(reasons, (bounded != out) & (bounded == hi), ClipReason.MAX_REPLICAS)
    return GuardedDecision(want, bounded, tuple(reasons))


class GuardedPolicy:
    """A policy wrapped in guardrails; `floor` (e.g. an HpaPolicy) sets the reactive floor."""

    def __init__(
        self,
        inner: Policy,
        guardrails: Guardrails,
        floor: Policy | None = None,
        name: str | None = None,
    ) -> None:
        self.inner, self.guardrails, self.floor = inner, guardrails, floor
        self.name = name or inner.name
        self.last: GuardedDecision | None = None

    def reset(self, ctx: PolicyContext) -> None:
        self.inner.reset(ctx)
        if self.floor is not None:
            self.floor.reset(ctx)
        g, graph = self.guardrails, ctx.graph
        lo = g.min_replicas or tuple(s.min_replicas for s in graph.services)
        hi = g.max_replicas or tuple(s.max_replicas for s in graph.services)
        self._bounds = (np.asarray(lo, dtype=int), np.asarray(hi, dtype=int))
        self._last_up: list[datetime | None] = [None] * len(graph.services)
        self.last = None
        self._ctx = ctx
        history = np.asarray(ctx.history_rps, dtype=float)
        first = ctx.start - timedelta(seconds=len(history) * ctx.tick_seconds)
        self._ordinary_peak = median_daily_peak(history, first, ctx.tick_seconds)
        self._per_replica = graph.array("capacity_rps") / graph.visit_ratios()

    def demand_cap(self, obs: Observation) -> np.ndarray | None:
        """Per service, the most replicas rule 3 allows now (None: no cap)."""
        multiple = self.guardrails.max_demand_multiple
        if multiple is None:
            return None
        ahead = obs.now + timedelta(seconds=self.guardrails.demand_lookahead_seconds)
        announced = max((ev.multiplier for ev in self._ctx.calendar
                         if ev.start <= ahead and obs.now < ev.end), default=1.0)
        rate = max(obs.entry_rate_rps, self._ordinary_peak) * announced
        cap: np.ndarray = np.ceil(multiple * rate / self._per_replica).astype(int)
        return cap

    def decide(self, obs: Observation) -> np.ndarray:
        proposed = self.inner.decide(obs)
        floor = None
        if self.floor is not None and self.guardrails.reactive_floor:
            floor = self.floor.decide(obs)
        cooldown = np.array(
            [
                t is not None and (obs.now - t).total_seconds() < self.guardrails.cooldown_seconds
                for t in self._last_up
            ]
        )
        decision = apply_guardrails(
            self.guardrails, proposed, obs.desired, floor, cooldown, self._bounds,
            self.demand_cap(obs),
        )
        for i in np.flatnonzero(decision.desired > obs.desired):
            self._last_up[i] = obs.now
        self.last = decision
        return decision.desired

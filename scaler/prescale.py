"""Announced events: scale up before they start, hold through them, let go after.

`EventFloor` wraps any policy. From `lead` before an event's start until its end, no service goes
below the replicas it needs for the entry rate seen when the lead window opened, times the event's
expected uplift, at the target utilisation. Outside every window the inner policy decides alone,
so the usual scale-down (and its guardrails) brings replicas back after the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from envs.observation import Observation
from scaler.policy import Policy, PolicyContext, utilisation_replicas


@dataclass(frozen=True)
class PlannedEvent:
    name: str
    start: datetime
    end: datetime
    expected_uplift: float
    lead_seconds: float

    def active(self, now: datetime) -> bool:
        return self.start - timedelta(seconds=self.lead_seconds) <= now < self.end


@dataclass(frozen=True)
class EventFloorState:
    event: PlannedEvent
    reference_rps: float
    floor: np.ndarray


class EventFloor:
    def __init__(self, inner: Policy, events: tuple[PlannedEvent, ...],
                 target_utilization: float = 0.7) -> None:
        self.inner, self.events = inner, events
        self.name = inner.name
        self.target_utilization = target_utilization
        self._reference: dict[str, float] = {}
        self.active: EventFloorState | None = None

    def reset(self, ctx: PolicyContext) -> None:
        self.inner.reset(ctx)
        self._graph = ctx.graph
        self._reference = {}
        self.active = None

    def decide(self, obs: Observation) -> np.ndarray:
        proposed = np.asarray(self.inner.decide(obs), dtype=int)
        best: EventFloorState | None = None
        for ev in self.events:
            if not ev.active(obs.now):
                self._reference.pop(ev.name, None)
                continue
            ref = self._reference.setdefault(ev.name, obs.entry_rate_rps)
            floor = utilisation_replicas(self._graph, ref * ev.expected_uplift,
                                         self.target_utilization)
            if best is None or floor.sum() > best.floor.sum():
                best = EventFloorState(ev, ref, floor)
        self.active = best
        if best is None:
            return proposed
        result: np.ndarray = np.maximum(proposed, best.floor)
        return result

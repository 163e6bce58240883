"""The one interface every scaling policy implements, and what it observes.

An `Observation` (envs/observation.py) is what a controller can see at the end of a tick: the
twin fills it, and in-cluster the controller fills the same fields from Prometheus. A policy
answers with the desired replica count of every service. Policies are stateful (stabilization
windows, forecasts), so the runner calls `reset` before an episode and `decide` once per tick,
in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from envs.graph import ServiceGraph
from envs.observation import Observation, Slo
from envs.workload import Event


@dataclass(frozen=True)
class PolicyContext:
    """What a policy knows before the episode starts.

    `history_rps` is the entry demand of the ticks before `start` (oldest first), as a metrics
    store would hold it; `calendar` holds the announced events only.
    """

    graph: ServiceGraph
    tick_seconds: int
    slo: Slo
    start: datetime
    history_rps: np.ndarray
    calendar: tuple[Event, ...]
    rng: np.random.Generator


class Policy(Protocol):
    name: str

    def reset(self, ctx: PolicyContext) -> None: ...

    def decide(self, obs: Observation) -> np.ndarray:
        """Desired replicas per service (integers; the runner clips to min/max)."""
        ...



def utilisation_replicas(graph: ServiceGraph, entry_rps: np.ndarray | float,
                         target_utilisation: float) -> np.ndarray:
    """Replicas each service needs to carry `entry_rps` at the entry at `target_utilisation`.

    The one formula every sizing rule shares: a service's rate (entry rate x its visit ratio)
    over the capacity of one replica at the target utilisation, rounded up (a float hair above
    a whole number does not add a replica). `entry_rps` is one entry rate, or one per service
    (each service's own peak over its own lead window).
    """
    rates = np.asarray(entry_rps, dtype=float) * graph.visit_ratios()
    cap = graph.array("capacity_rps")
    result: np.ndarray = np.ceil(rates / (cap * target_utilisation) - 1e-9).astype(int)
    return result

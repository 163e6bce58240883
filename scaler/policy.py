"""The one interface every scaling policy implements, and what it observes.

An `Observation` is what a controller can see at the end of a tick: the same fields are filled
from the twin (envs/) or, in-cluster, from Prometheus. A policy answers with the desired replica
count of every service. Policies are stateful (stabilization windows, forecasts), so the runner
calls `reset` before an episode and `decide` once per tick, in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from envs.graph import ServiceGraph
from envs.workload import Event


@dataclass(frozen=True)
class Slo:
    p95_latency_ms: float
    max_error_ratio: float


@dataclass(frozen=True)
class Observation:
    """Per-service arrays are in `ServiceGraph.names` order.

    `rate_rps` is the offered load during the last tick, `cpu_utilization` the mean CPU used by
    ready pods over their CPU request (1.0 = 100%), `ready`/`pending` the pods that serve / are
    still starting, `desired` the replica count the workload's spec holds now.
    """

    tick: int
    now: datetime
    rate_rps: np.ndarray
    cpu_utilization: np.ndarray
    ready: np.ndarray
    pending: np.ndarray
    desired: np.ndarray
    p95_latency_ms: np.ndarray
    e2e_p95_latency_ms: float
    error_ratio: float
    entry_rate_rps: float


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

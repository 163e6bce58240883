"""What a scaling policy sees at the end of a tick, and the SLO it is held to.

The twin fills an `Observation` from its state; in-cluster the controller fills the same fields from
Prometheus. Latency figures cost a queueing evaluation, so they are computed on first access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Slo:
    """Service level objective of the entry service: p95 latency and error ratio, per tick."""

    p95_latency_ms: float
    max_error_ratio: float


@dataclass(frozen=True)
class LatencySample:
    p95_latency_ms: np.ndarray
    e2e_p95_latency_ms: float
    error_ratio: float


@dataclass(frozen=True)
class Observation:
    """Per-service arrays are in `ServiceGraph.names` order. `tick` is the index of the tick just
    observed (-1: the steady state before the run); a policy answers for tick `tick + 1`.

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
    entry_rate_rps: float
    latency_source: Callable[[], LatencySample]

    @cached_property
    def latency(self) -> LatencySample:
        return self.latency_source()

    @property
    def p95_latency_ms(self) -> np.ndarray:
        return self.latency.p95_latency_ms

    @property
    def e2e_p95_latency_ms(self) -> float:
        return self.latency.e2e_p95_latency_ms

    @property
    def error_ratio(self) -> float:
        return self.latency.error_ratio

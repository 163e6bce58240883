"""The world the twin simulates and what it records: prices, path weights, the per-service
configuration (`TwinConfig`) and a run's `Trajectory`. Shared by the twin (`envs/twin.py`) and the
outcome model (`envs/outcome.py`), which builds on these types and is called by the twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from envs.graph import PriceClass, ServiceGraph
from envs.observation import Slo
from envs.path_latency import PathMixture, build_mixture


@dataclass(frozen=True)
class Prices:
    """Price of one vCPU-hour of CPU request, by where the replica runs."""

    cloud_vcpu_hour: float = 0.048
    edge_vcpu_hour: float = 0.070


@dataclass(frozen=True)
class PathWeights:
    """`reach[s, p]`: probability a request on path p reaches service s (0 if s is not on p);
    `edge_rtt[s, p]`: network seconds on the call into s along p."""

    reach: np.ndarray
    edge_rtt: np.ndarray


@dataclass(frozen=True)
class TwinConfig:
    graph: ServiceGraph
    slo: Slo
    tick_seconds: int = 60
    prices: Prices = field(default_factory=Prices)
    # From a placement (placement/simulate.py): network RTT added to each call (graph.calls
    # order), the shopper's RTT to the entry service, and each service's price per vCPU-hour
    # where it runs (overriding `prices` by price class).
    call_rtt_ms: tuple[float, ...] | None = None
    entry_rtt_ms: float = 0.0
    vcpu_hour_usd: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.tick_seconds <= 0:
            raise ValueError(f"tick_seconds must be > 0, got {self.tick_seconds}")

    @cached_property
    def startup_ticks(self) -> np.ndarray:
        """Ticks from a pod's creation until it serves: ceil(startup_seconds / tick)."""
        return self.graph.startup_ticks(self.tick_seconds)

    @cached_property
    def visit_ratios(self) -> np.ndarray:
        return self.graph.visit_ratios()

    @cached_property
    def path_weights(self) -> PathWeights:
        """Each entry path as weights over services (see `envs.outcome._e2e_p95_ms`)."""
        g = self.graph
        paths = g.entry_paths()
        rtt = np.asarray(self.call_rtt_ms or [0.0] * len(g.calls)) / 1000.0
        prob = np.array([min(c.fanout, 1.0) for c in g.calls])
        n_s = len(g.services)
        reach = np.zeros((n_s, len(paths)))
        edge_rtt = np.zeros((n_s, len(paths)))
        for p, (nodes, edges) in enumerate(paths):
            w = np.concatenate([[1.0], np.cumprod(prob[list(edges)])])
            reach[list(nodes), p] = w
            edge_rtt[list(nodes), p] = np.concatenate([[0.0], rtt[list(edges)]])
        return PathWeights(reach, edge_rtt)

    @cached_property
    def path_mixture(self) -> PathMixture:
        """Each entry path as a mixture over where a request stops (`envs/path_latency.py`)."""
        pw = self.path_weights
        paths = [(nodes, [pw.reach[n, p] for n in nodes], [pw.edge_rtt[n, p] for n in nodes])
                 for p, (nodes, _) in enumerate(self.graph.entry_paths())]
        return build_mixture(len(self.graph.services), paths)

    @cached_property
    def capacity_rps(self) -> np.ndarray:
        return self.graph.array("capacity_rps")

    @cached_property
    def min_replicas(self) -> np.ndarray:
        return self.graph.array("min_replicas").astype(int)

    @cached_property
    def max_replicas(self) -> np.ndarray:
        return self.graph.array("max_replicas").astype(int)

    def replica_hour_price(self) -> np.ndarray:
        vcpu = self.graph.array("cpu_request_millicores") / 1000.0
        if self.vcpu_hour_usd is not None:
            result: np.ndarray = vcpu * np.asarray(self.vcpu_hour_usd)
            return result
        edge = np.array([s.price_class is PriceClass.EDGE for s in self.graph.services])
        return vcpu * np.where(edge, self.prices.edge_vcpu_hour, self.prices.cloud_vcpu_hour)

    def clip(self, desired: np.ndarray) -> np.ndarray:
        """Whole replicas within each service's [min_replicas, max_replicas]."""
        d = np.asarray(desired)
        if d.dtype.kind != "i":
            d = np.rint(d.astype(float)).astype(int)
        result: np.ndarray = np.minimum(np.maximum(d, self.min_replicas), self.max_replicas)
        return result


@dataclass(frozen=True)
class Trajectory:
    """What happened, per tick and service: arrays of shape (ticks, services)."""

    desired: np.ndarray
    ready: np.ndarray
    backlog_avg: np.ndarray
    dropped: np.ndarray
    unreachable: np.ndarray | None = None  # True where shoppers cannot reach the service (WAN)

    def part(self, s: slice) -> Trajectory:
        """The ticks of slice `s`."""
        cut = None if self.unreachable is None else self.unreachable[s]
        return Trajectory(self.desired[s], self.ready[s], self.backlog_avg[s], self.dropped[s], cut)

    def tick(self, t: int) -> Trajectory:
        """Tick `t` alone, as a one-tick trajectory."""
        return self.part(slice(t, t + 1))

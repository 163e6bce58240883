"""The twin: replicas, start-up delay and backlog of every service, one tick at a time.

The state that carries from tick to tick is small: the desired replica count of the last few
ticks (a pod created at tick u serves from tick u + startup_ticks, and scale-downs remove the newest
pods first, so `ready[t] = min(desired[t - startup_ticks .. t])`) and each service's backlog (a
fluid queue that grows when demand exceeds the capacity of ready replicas, and overflows beyond
the queue limit as dropped requests). Latency is a function of each tick's state alone, so it is
evaluated afterwards for the whole run in a few vectorized passes (`envs/outcome.py`), or on
demand for one tick when a policy looks at it.

Two ways to run, one model: `Twin.step` (closed loop: a policy decides every tick) and
`run_schedule` (open loop: a desired-replica schedule known in advance, fully vectorized). A test
checks they agree to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from envs.graph import PriceClass, ServiceGraph
from envs.observation import LatencySample, Observation, Slo

if TYPE_CHECKING:
    from envs.outcome import TickMetrics


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
        return np.ceil(self.graph.array("startup_seconds") / self.tick_seconds).astype(int)

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


def backlog_step(
    backlog: np.ndarray,
    rate_rps: np.ndarray,
    capacity_rps: np.ndarray,
    limit: np.ndarray,
    tick_seconds: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tick of the fluid queue: (backlog at the end, mean backlog, requests dropped)."""
    x = backlog + (rate_rps - capacity_rps) * tick_seconds
    end = np.clip(x, 0.0, limit)
    dropped = np.maximum(x - limit, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        drain = backlog / np.maximum(capacity_rps - rate_rps, 1e-12)  # seconds until empty
        avg = np.where(x >= 0, 0.5 * (backlog + end), 0.5 * backlog * drain / tick_seconds)
    return end, avg, dropped


_NEVER = np.iinfo(np.int64).max


class Twin:
    """Closed-loop simulation of one app over a demand trace (`entry_rps`, one value per tick)."""

    def __init__(
        self,
        config: TwinConfig,
        entry_rps: np.ndarray,
        start: datetime,
        *,
        before_rps: float | None = None,
        unreachable: np.ndarray | None = None,
    ) -> None:
        """`before_rps`: entry demand of the tick before the run (default: the first tick's);
        `unreachable` (ticks x services, bool): services shoppers cannot reach (a WAN outage)."""
        self.config = config
        self.unreachable = unreachable
        self.start = start
        self.entry_rps = np.asarray(entry_rps, dtype=float)
        self._before = float(self.entry_rps[0] if before_rps is None else before_rps)
        self.rates = self.entry_rps[:, None] * config.visit_ratios[None, :]
        self._cap = config.capacity_rps
        self._limit = config.graph.array("queue_limit_per_replica")
        self._cpu = config.graph.array("cpu_millicores_per_rps") / config.graph.array(
            "cpu_request_millicores"
        )
        depth = int(config.startup_ticks.max()) + 1
        ages = (np.arange(depth)[:, None] - np.arange(depth)[None, :]) % depth  # [t % depth, row]
        self._masks = ages[:, :, None] <= config.startup_ticks[None, None, :]
        self._depth = depth
        self.ticks = len(self.entry_rps)
        self.reset(config.min_replicas)

    def reset(self, initial: np.ndarray) -> None:
        """Start at tick 0 with `initial` replicas ready (the steady state before the run)."""
        n_s = len(self.config.graph.services)
        self.t = 0
        self._initial = self.config.clip(initial)
        self._history = np.tile(self._initial, (self._depth, 1))
        self._backlog = np.zeros(n_s)
        self._queued = False
        shape = (self.ticks, n_s)
        self._desired = np.zeros(shape, dtype=int)
        self._ready = np.zeros(shape, dtype=int)
        self._backlog_avg = np.zeros(shape)
        self._dropped = np.zeros(shape)
        self._metrics: tuple[int, TickMetrics] | None = None

    @property
    def done(self) -> bool:
        return self.t >= self.ticks

    def step(self, desired: np.ndarray) -> None:
        """Set the desired replicas at the start of the current tick, then simulate the tick."""
        t = self.t
        if t >= self.ticks:
            raise IndexError(f"the run has {self.ticks} ticks; tick {t} is past its end")
        d = self.config.clip(desired)
        slot = t % self._depth
        self._history[slot] = d
        ready = np.where(self._masks[slot], self._history, _NEVER).min(axis=0)
        self._desired[t], self._ready[t] = d, ready
        rate, cap = self.rates[t], ready * self._cap
        if self._queued or (rate > cap).any():  # else: no queue, nothing dropped (arrays are 0)
            end, avg, dropped = backlog_step(
                self._backlog, rate, cap, ready * self._limit, self.config.tick_seconds
            )
            self._backlog, self._queued = end, bool(end.any())
            self._backlog_avg[t], self._dropped[t] = avg, dropped
        self.t = t + 1

    def trajectory(self) -> Trajectory:
        """The ticks simulated so far."""
        t = self.t
        cut = None if self.unreachable is None else self.unreachable[:t]
        return Trajectory(
            self._desired[:t], self._ready[:t], self._backlog_avg[:t], self._dropped[:t], cut
        )

    def tick_metrics(self, t: int) -> TickMetrics:
        """Latency, errors, violation and cost of simulated tick `t` (-1: the initial state)."""
        from envs.outcome import tick_metrics  # outcome builds on this module's types

        if self._metrics is not None and self._metrics[0] == t:
            return self._metrics[1]
        if t < 0:
            zeros = np.zeros((1, len(self._initial)))
            rates = (self._before * self.config.visit_ratios)[None]
            traj = Trajectory(self._initial[None], self._initial[None], zeros, zeros)
        else:
            rates, traj = self.rates[t : t + 1], self.trajectory().tick(t)
        m = tick_metrics(self.config, rates, traj)
        self._metrics = (t, m)
        return m

    def observe(self) -> Observation:
        """What a controller sees after the last tick (before the first: the initial state).

        `tick` is the index of the last simulated tick (-1 before the first); a policy's answer
        is the desired replicas of tick `tick + 1`.
        """
        t = self.t - 1
        if t < 0:
            ready = desired = self._initial
            rate = self._before * self.config.visit_ratios
        else:
            ready, desired, rate = self._ready[t], self._desired[t], self.rates[t]
        served = np.minimum(rate, ready * self._cap)
        util = np.where(ready > 0, served * self._cpu / np.maximum(ready, 1), 0.0)

        def latency() -> LatencySample:
            m = self.tick_metrics(t)
            return LatencySample(
                m.service_p95_ms[0], float(m.e2e_p95_ms[0]), float(m.error_ratio[0])
            )

        return Observation(
            tick=t,
            now=self.start + timedelta(seconds=(t + 1) * self.config.tick_seconds),
            rate_rps=rate,
            cpu_utilization=util,
            ready=ready,
            pending=desired - ready,
            desired=desired,
            entry_rate_rps=float(self.entry_rps[t]) if t >= 0 else self._before,
            latency_source=latency,
        )


def ready_from_schedule(config: TwinConfig, desired: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """ready[t] = min(desired[t - startup_ticks .. t]), with `initial` before tick 0."""
    depth = int(config.startup_ticks.max())
    padded = np.vstack([np.tile(initial, (depth, 1)), desired])
    ready = np.empty_like(desired)
    for s, k in enumerate(config.startup_ticks):
        windows = np.lib.stride_tricks.sliding_window_view(padded[depth - k :, s], k + 1)
        ready[:, s] = windows.min(axis=1)
    return ready


def run_schedule(
    config: TwinConfig,
    entry_rps: np.ndarray,
    desired: np.ndarray,
    initial: np.ndarray,
    unreachable: np.ndarray | None = None,
) -> Trajectory:
    """Open-loop run of a desired-replica schedule (ticks x services), vectorized over ticks.

    The backlog recursion only runs over stretches where demand exceeds capacity.
    """
    desired = config.clip(desired)
    initial = config.clip(initial)
    rates = np.asarray(entry_rps, dtype=float)[:, None] * config.visit_ratios[None, :]
    ready = ready_from_schedule(config, desired, initial)
    cap = ready * config.capacity_rps
    limit = ready * config.graph.array("queue_limit_per_replica")
    dt = float(config.tick_seconds)
    avg = np.zeros(rates.shape)
    dropped = np.zeros(rates.shape)
    for s in range(rates.shape[1]):
        overloaded = np.flatnonzero(rates[:, s] > cap[:, s])
        t_next = 0
        for t0 in overloaded:
            if t0 < t_next:
                continue
            t, b = int(t0), np.zeros(1)
            while t < len(rates) and (b[0] > 0 or rates[t, s] > cap[t, s]):
                b, a, d = backlog_step(
                    b, rates[t, s : s + 1], cap[t, s : s + 1], limit[t, s : s + 1], dt
                )
                avg[t, s], dropped[t, s] = a[0], d[0]
                t += 1
            t_next = t
    return Trajectory(desired, ready, avg, dropped, unreachable)

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

from datetime import datetime, timedelta

import numpy as np

from envs.observation import LatencySample, Observation
from envs.outcome import TickMetrics, tick_metrics
from envs.twin_config import Trajectory, TwinConfig


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
    capacity_rps: np.ndarray | None = None,
) -> Trajectory:
    """Open-loop run of a desired-replica schedule (ticks x services), vectorized over ticks.

    `capacity_rps` (ticks x services): each ready replica's capacity per tick where it varies
    (a node whose CPU is shared serves slower while the demand on it is higher; default the
    graph's). The backlog recursion only runs over stretches where demand exceeds capacity, so
    a backlog built at one tick's capacity drains at the next ticks' capacities.
    """
    desired = config.clip(desired)
    initial = config.clip(initial)
    rates = np.asarray(entry_rps, dtype=float)[:, None] * config.visit_ratios[None, :]
    ready = ready_from_schedule(config, desired, initial)
    cap = ready * (config.capacity_rps if capacity_rps is None else capacity_rps)
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

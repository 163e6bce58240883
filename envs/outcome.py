"""From a trajectory to what users feel and pay: latency, errors, SLO violations and cost.

Per service: M/M/c response time (envs/queueing.py) plus the drain time of its backlog. End to
end: the p95 of the critical (slowest) call path from the entry service, see `_e2e_p95_ms`. A
request fails if any call it makes is dropped (or its service is unreachable), see `_survival`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np

from envs.path_latency import PathSolver, SlowestPath
from envs.queueing import ResponseTime, response_time
from envs.twin_config import Trajectory, TwinConfig
from envs.workload import Event

TIMEOUT_MS = 30_000.0  # a response slower than this is as bad as a timeout; caps infinities


@dataclass(frozen=True)
class TickMetrics:
    """Arrays over ticks (and services, where named so)."""

    service_mean_ms: np.ndarray
    service_p95_ms: np.ndarray
    e2e_p95_ms: np.ndarray
    error_ratio: np.ndarray
    violation: np.ndarray
    cost: np.ndarray
    within_slo_share: np.ndarray  # share of requests answered within the latency SLO


def _survival(drop_ratio: np.ndarray, visits: np.ndarray) -> np.ndarray:
    """Chance a request gets through each service: a service visited v >= 1 times per request
    is passed v times, (1 - d) ** v; one visited by a share v < 1 of requests fails d v of them."""
    v = visits[None, :]
    result: np.ndarray = np.where(v >= 1.0, (1.0 - drop_ratio) ** v, 1.0 - drop_ratio * v)
    return result


def _service_moments(config: TwinConfig, rates: np.ndarray, traj: Trajectory, p95: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, ResponseTime, np.ndarray]:
    """Per tick and service: response mean and variance (s, capped at the timeout), the
    request error ratio per tick, the M/M/c response and the backlog drain time."""
    g = config.graph
    concurrency = g.array("concurrency")
    mu = 1000.0 / g.array("service_time_ms")
    cap = traj.ready * config.capacity_rps
    rt = response_time(traj.ready * concurrency, rates, mu, p95=p95)
    with np.errstate(divide="ignore", invalid="ignore"):
        drain = np.where(traj.backlog_avg > 0, traj.backlog_avg / cap, 0.0)
        drop_ratio = np.where(rates > 0, traj.dropped / (rates * config.tick_seconds), 0.0)
    mean = np.minimum(rt.mean + drain, TIMEOUT_MS / 1000.0)
    var = np.minimum(rt.var, (TIMEOUT_MS / 1000.0) ** 2)
    if traj.unreachable is not None:
        drop_ratio = np.where(traj.unreachable, 1.0, drop_ratio)
    error = 1.0 - np.prod(_survival(np.clip(drop_ratio, 0.0, 1.0), config.visit_ratios), axis=1)
    return mean, var, error, rt, drain


def service_moments(config: TwinConfig, rates: np.ndarray, traj: Trajectory
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per tick and service: response time mean and variance (s, s^2), backlog drain included."""
    mean, var, _, _, _ = _service_moments(config, rates, traj, False)
    return mean, var


def request_moments(config: TwinConfig, rates: np.ndarray, traj: Trajectory
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tick: each service's response mean and variance (s, s^2; ticks, services) and the
    request error ratio."""
    mean, var, error, _, _ = _service_moments(config, rates, traj, False)
    return mean, var, error


def within_shares(config: TwinConfig, bounds_seconds: tuple[float, ...], mean: np.ndarray,
                  var: np.ndarray) -> np.ndarray:
    """Per tick and bound: the share of requests answered within the bound end to end (the entry
    RTT included), from the same path mixture as the p95: (ticks, bounds)."""
    slowest = SlowestPath(config.path_mixture, mean, var)
    entry = config.entry_rtt_ms / 1000.0
    return np.stack([slowest.within(b - entry) for b in bounds_seconds], axis=1)


def tick_metrics(
    config: TwinConfig, rates: np.ndarray, traj: Trajectory, *, service_p95: bool = True,
    solver: PathSolver = PathSolver.NEWTON,
) -> TickMetrics:
    """Latency, errors, SLO violations and cost of every tick of a trajectory.

    End to end: the p95 of the slowest call path from the entry service, each path's latency the
    sum of its services' responses (and network RTTs), where a call is made with probability
    below one the exact mixture over how far down the path a request goes, solved numerically
    (`envs/path_latency.py`, `solver`); the share of requests within the SLO from the same
    mixture. Per-service p95s (`service_p95_ms`) cost a few Newton passes and are NaN unless
    asked for.
    """
    mean, var, error, rt, drain = _service_moments(config, rates, traj, service_p95)
    slowest = SlowestPath(config.path_mixture, mean, var)
    entry = config.entry_rtt_ms / 1000.0
    e2e = np.minimum((slowest.p95(solver) + entry) * 1000.0, TIMEOUT_MS)
    violation = (e2e > config.slo.p95_latency_ms) | (error > config.slo.max_error_ratio)
    cost = traj.desired @ config.replica_hour_price() * config.tick_seconds / 3600.0
    p95 = np.minimum((rt.p95 + drain) * 1000.0, TIMEOUT_MS)
    within = slowest.within(config.slo.p95_latency_ms / 1000.0 - entry)
    return TickMetrics(mean * 1000.0, p95, e2e, error, violation, cost, within)


@dataclass(frozen=True)
class Summary:
    """One policy's run, the figures of `results.json`."""

    slo_violation_minutes: float
    event_slo_violation_minutes: float
    slo_attainment: float
    p95_latency_ms: float
    dropped_requests: int
    replica_hours: float
    cost: float
    scale_actions: int
    # Request-based SLIs (envs/sli.py): the share of requests answered within the SLO's latency
    # and the share that did not fail, as Prometheus computes them from counters and buckets.
    requests: float
    latency_attainment: float
    availability_attainment: float


def event_mask(
    events: tuple[Event, ...], start: datetime, ticks: int, tick_seconds: int
) -> np.ndarray:
    """Ticks inside any event window [start, end), announced or not."""
    t = np.arange(ticks) * float(tick_seconds)
    mask = np.zeros(ticks, dtype=bool)
    for ev in events:
        lo = (ev.start - start).total_seconds()
        hi = (ev.end - start).total_seconds()
        mask |= (t + tick_seconds > lo) & (t < hi)
    return mask


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    if cum[-1] <= 0:
        return float(np.quantile(values, q))
    return float(values[order][np.searchsorted(cum, q * cum[-1])])


CHUNK_TICKS = 16_384  # keeps each temporary (ticks x services) within the CPU caches' reach


def _chunked_metrics(config: TwinConfig, rates: np.ndarray, traj: Trajectory,
                     solver: PathSolver) -> TickMetrics:
    """`tick_metrics` (without per-service p95s) in blocks of ticks: same result, less memory
    traffic on long runs."""
    parts = [
        tick_metrics(config, rates[lo : lo + CHUNK_TICKS], traj.part(slice(lo, lo + CHUNK_TICKS)),
                     service_p95=False, solver=solver)
        for lo in range(0, len(rates), CHUNK_TICKS)
    ]
    if not parts:
        return tick_metrics(config, rates, traj, service_p95=False, solver=solver)
    return TickMetrics(*(np.concatenate([getattr(p, f.name) for p in parts])
                         for f in fields(TickMetrics)))


def _request_slis(entry_rps: np.ndarray, m: TickMetrics, tick_seconds: int
                  ) -> dict[str, float]:
    """Request-weighted shares over the run (envs/sli.py gives the same per bucket)."""
    total = float(entry_rps.sum())
    if total <= 0:
        return {"requests": 0.0, "latency_attainment": 1.0, "availability_attainment": 1.0}
    return {"requests": total * tick_seconds,
            "latency_attainment": float((m.within_slo_share * entry_rps).sum()) / total,
            "availability_attainment": 1.0 - float((m.error_ratio * entry_rps).sum()) / total}


def summarize(
    config: TwinConfig, entry_rps: np.ndarray, traj: Trajectory, in_event: np.ndarray,
    solver: PathSolver = PathSolver.NEWTON,
) -> tuple[Summary, TickMetrics]:
    rates = np.asarray(entry_rps, dtype=float)[:, None] * config.visit_ratios[None, :]
    m = _chunked_metrics(config, rates, traj, solver)
    minutes = config.tick_seconds / 60.0
    changes = np.diff(traj.desired, axis=0) != 0
    summary = Summary(
        slo_violation_minutes=float(m.violation.sum() * minutes),
        event_slo_violation_minutes=float((m.violation & in_event).sum() * minutes),
        slo_attainment=float(1.0 - m.violation.mean()) if len(m.violation) else 1.0,
        p95_latency_ms=weighted_quantile(m.e2e_p95_ms, np.asarray(entry_rps, float), 0.95),
        dropped_requests=int(round(float((m.error_ratio * entry_rps).sum() * config.tick_seconds))),
        replica_hours=float(traj.desired.sum() * config.tick_seconds / 3600.0),
        cost=float(m.cost.sum()),
        scale_actions=int(changes.sum()),
        **_request_slis(np.asarray(entry_rps, dtype=float), m, config.tick_seconds),
    )
    return summary, m

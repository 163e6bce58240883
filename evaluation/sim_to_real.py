"""The twin against a real run of the retail app, pure: measured services -> a service graph,
the real arrival and replica schedules replayed in the twin, per-window p95 compared.

- Capacity: a replica's per-worker service rate mu is fitted so that the twin's own M/M/c mean
  response at the calibration load equals the mean work time measured on the node
  (`fit_service_rate`): the capacity is measured under the node's real CPU contention, in the
  twin's terms, not assumed from the configured CPU time.
- Start-up: the measured time from a scale-up to the new replica being a ready endpoint.
- Overhead: what the end-to-end latency has on top of the services' work (HTTP handling, the
  bridge, the interpreter lock a burning thread holds while another request's HTTP waits, and
  scheduling stalls) is one more independent term on the call path, a gamma whose mean and
  variance make the twin's end-to-end mean and p95 at a calibration load equal the measured
  ones (`overhead_beyond`).
- CPU contention, the queue's variability and the overhead against the load:
  `evaluation/contention.py`.
- Per window (a minute of the run): the twin's end-to-end latency at each one-second tick is
  the gamma of its call path's moments (as `envs/outcome.py` has it); the window's p95 is the
  p95 of the mixture of its ticks weighted by their arrivals (`mixture_p95`), which is what a
  load generator's histogram of that minute measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import gamma

from envs.graph import ServiceGraph, parse_graph
from envs.observation import Slo
from envs.outcome import service_moments
from envs.queueing import response_time
from envs.twin import run_schedule
from envs.twin_config import Trajectory, TwinConfig

QUEUE_LIMIT = 100_000  # the app queues without bound (threads); the load generator times out
MIN_SHAPE = 0.5  # a gamma's p95 grows with its variance only down to this shape


def path_moments(config: TwinConfig, mean: np.ndarray, var: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (s, s^2) of every call path's latency per tick, (ticks, paths). The
    retail app calls every callee on every request (probability 1), so a path's latency is a
    plain sum and one gamma on its moments is the twin's own model of it (the exact mixture of
    `envs.path_latency` differs only where calls are made with probability below 1)."""
    pw = config.path_weights
    spread = pw.reach * (1.0 - pw.reach)
    path_mean = mean @ pw.reach + (pw.reach * pw.edge_rtt).sum(axis=0)
    path_var = (var @ pw.reach + (mean**2) @ spread + 2.0 * mean @ (spread * pw.edge_rtt)
                + (spread * pw.edge_rtt**2).sum(axis=0))
    return path_mean, path_var


@dataclass(frozen=True)
class ServiceMeasurement:
    """One service as measured on the node during calibration."""

    name: str
    calls: tuple[str, ...]
    rate_rps: float  # arrivals at this service during the calibration load
    replicas: int
    concurrency: int
    work_mean_seconds: float  # queueing for a worker + CPU work, mean
    service_mean_seconds: float  # the CPU work alone, wall clock, mean (the service time)
    cpu_seconds_per_request: float  # the replicas' process CPU / requests
    startup_seconds: float  # scale-up -> ready endpoint
    cpu_request_millicores: float


def fit_service_rate(rate_rps: float, servers: int, work_mean_seconds: float) -> float:
    """Per-worker service rate mu (1/s) at which the M/M/c mean response (envs/queueing.py) at
    `rate_rps` with `servers` workers is `work_mean_seconds`."""
    if not (work_mean_seconds > 0 and math.isfinite(work_mean_seconds)):
        raise ValueError(f"work_mean_seconds must be finite and > 0, got {work_mean_seconds}")
    c = np.array([float(servers)])

    def gap(mu: float) -> float:
        mean = response_time(c, np.array([rate_rps]), np.array([mu]), p95=False).mean[0]
        return float(mean) - work_mean_seconds

    low = max(rate_rps / servers, 1e-9) * (1 + 1e-6)  # just stable: M/M/c is exact up to 1
    high = max(10.0 / work_mean_seconds, low * 10)
    while gap(high) > 0:
        high *= 10
    if gap(low) < 0:  # even at the stability bound the mean is shorter: cap there
        return low
    return float(brentq(gap, low, high, xtol=1e-9, rtol=1e-9))


def graph_from(measured: tuple[ServiceMeasurement, ...], entry: str,
               max_replicas: int = 20, service_rates: dict[str, float] | None = None
               ) -> ServiceGraph:
    """The app as the twin's graph; per-worker service rates fitted from `measured` unless
    given in `service_rates`."""
    services = {}
    for m in measured:
        mu = (service_rates or {}).get(m.name) or fit_service_rate(
            m.rate_rps, m.replicas * m.concurrency, m.work_mean_seconds)
        services[m.name] = {
            "capacity_rps": m.concurrency * mu, "concurrency": m.concurrency,
            "cpu_millicores_per_rps": max(m.cpu_seconds_per_request * 1000.0, 1e-6),
            "cpu_request_millicores": m.cpu_request_millicores,
            "startup_seconds": m.startup_seconds, "min_replicas": 1,
            "max_replicas": max_replicas, "queue_limit_per_replica": QUEUE_LIMIT}
    calls = [{"from": m.name, "to": callee} for m in measured for callee in m.calls]
    return parse_graph({"name": "shop", "entry": entry, "services": services, "calls": calls})


def twin_config(graph: ServiceGraph, overhead_ms: float, tick_seconds: int = 1) -> TwinConfig:
    return TwinConfig(graph, Slo(p95_latency_ms=400.0, max_error_ratio=0.01),
                      tick_seconds=tick_seconds, entry_rtt_ms=max(overhead_ms, 0.0))


def overhead_ms(config: TwinConfig, measured: tuple[ServiceMeasurement, ...],
                e2e_mean_seconds: float) -> float:
    """The measured end-to-end mean minus the twin's summed service means at calibration."""
    g = config.graph
    rates = np.array([[next(m.rate_rps for m in measured if m.name == n) for n in g.names]])
    replicas = np.array([[next(m.replicas for m in measured if m.name == n) for n in g.names]])
    zeros = np.zeros(rates.shape)
    mean, _ = service_moments(config, rates, Trajectory(replicas, replicas, zeros, zeros))
    return max((e2e_mean_seconds - float(mean.sum())) * 1000.0, 0.0)


@dataclass(frozen=True)
class Overhead:
    """The end-to-end latency beyond the services' work: mean (s) and variance (s^2)."""

    mean_seconds: float
    var_seconds2: float

    def scaled(self, stretch: float) -> Overhead:
        """The same CPU-bound overhead on a node where CPU work takes `stretch` times longer."""
        return Overhead(self.mean_seconds * stretch, self.var_seconds2 * stretch**2)


def overhead_beyond(path_mean: float, path_var: float, e2e_mean_seconds: float,
                    e2e_p95_seconds: float) -> Overhead:
    """The overhead that, added to a call path of these moments, gives the measured end-to-end
    mean and p95 (variance 0 when the path alone already reaches that p95)."""
    mean = max(e2e_mean_seconds - path_mean, 0.0)

    def gap(var: float) -> float:
        return mixture_p95(np.array([path_mean + mean]), np.array([path_var + var]),
                           np.ones(1)) - e2e_p95_seconds

    if not math.isfinite(e2e_p95_seconds) or gap(0.0) >= 0:
        return Overhead(mean, 0.0)
    widest = (path_mean + mean) ** 2 / MIN_SHAPE - path_var  # the largest p95 this mean allows
    if gap(widest) <= 0:
        return Overhead(mean, widest)
    return Overhead(mean, float(brentq(gap, 0.0, widest, xtol=1e-12)))


def mixture_p95(means: np.ndarray, variances: np.ndarray, weights: np.ndarray) -> float:
    """p95 of a weighted mixture of gammas with these moments (seconds)."""
    keep = (weights > 0) & np.isfinite(means)
    if not keep.any():
        return math.nan
    m, v, w = means[keep], np.maximum(variances[keep], 1e-18), weights[keep] / weights[keep].sum()
    shape = np.clip(m**2 / v, MIN_SHAPE, 1e6)  # as envs.queueing.gamma_p95 bounds it
    scale = m / shape

    def tail(x: float) -> float:
        return float((w * gamma.sf(x, shape, scale=scale)).sum()) - 0.05

    high = float((m + 10 * np.sqrt(v)).max())
    while tail(high) > 0:
        high *= 2
    return float(brentq(tail, 0.0, high, xtol=1e-7))


@dataclass(frozen=True)
class Replay:
    """The twin's run of the real schedules: per tick, path and per-service moments."""

    config: TwinConfig
    entry_rps: np.ndarray  # per tick
    trajectory: Trajectory
    path_mean: np.ndarray  # (ticks, paths), s
    path_var: np.ndarray
    service_mean: np.ndarray  # (ticks, services), s
    service_var: np.ndarray

    def window_p95_seconds(self, window_ticks: int) -> np.ndarray:
        """End-to-end p95 per window: the slowest path's mixture, the config's constant
        `entry_rtt_ms` added."""
        worst = self.path_mean.argmax(axis=1)
        mean = self.path_mean[np.arange(len(worst)), worst]
        var = self.path_var[np.arange(len(worst)), worst]
        extra = self.config.entry_rtt_ms / 1000.0
        return np.array([mixture_p95(mean[s], var[s], self.entry_rps[s]) + extra
                         for s in windows(len(mean), window_ticks)])

    def service_window_p95_seconds(self, window_ticks: int) -> np.ndarray:
        """(windows, services) p95 of each service's response (its work time)."""
        rates = self.entry_rps[:, None] * self.config.visit_ratios[None, :]
        out = [[mixture_p95(self.service_mean[s, j], self.service_var[s, j], rates[s, j])
                for j in range(rates.shape[1])]
               for s in windows(len(rates), window_ticks)]
        return np.array(out)


def windows(ticks: int, window_ticks: int) -> list[slice]:
    """The ticks of each window (the last one may be shorter)."""
    return [slice(k, min(k + window_ticks, ticks)) for k in range(0, ticks, window_ticks)]


def replay(config: TwinConfig, entry_rps: np.ndarray, desired: np.ndarray,
           initial: np.ndarray) -> Replay:
    """The real arrival rate (per tick) and desired replicas (ticks x services) in the twin."""
    traj = run_schedule(config, entry_rps, desired, initial)
    rates = np.asarray(entry_rps, dtype=float)[:, None] * config.visit_ratios[None, :]
    mean, var = service_moments(config, rates, traj)
    p_mean, p_var = path_moments(config, mean, var)
    return Replay(config, np.asarray(entry_rps, dtype=float), traj, p_mean, p_var, mean, var)


def relative_errors(twin: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """|twin - measured| / measured, where both are finite and measured > 0."""
    t, m = np.asarray(twin, dtype=float), np.asarray(measured, dtype=float)
    ok = np.isfinite(t) & np.isfinite(m) & (m > 0)
    result: np.ndarray = np.abs(t[ok] - m[ok]) / m[ok]
    return result


def step_series(times: np.ndarray, values: np.ndarray, ticks: int, tick_seconds: float,
                before: float) -> np.ndarray:
    """A sampled step function (value from each sample time on) at every tick's start;
    `before` ahead of the first sample."""
    t = np.asarray(times, dtype=float)
    at = np.arange(ticks) * tick_seconds
    i = np.searchsorted(t, at, side="right") - 1
    result: np.ndarray = np.where(i >= 0, np.asarray(values)[np.maximum(i, 0)], before)
    return result


def scale_up_delays(times: np.ndarray, desired: np.ndarray, ready: np.ndarray
                    ) -> list[tuple[float, float]]:
    """(time of each scale-up, seconds until as many replicas were ready) from samples; a
    scale-up overtaken by another change before it was ready is left out."""
    out = []
    for k in range(1, len(times)):
        if desired[k] <= desired[k - 1]:
            continue
        later = np.flatnonzero(ready[k:] >= desired[k])
        changed = np.flatnonzero(desired[k:] != desired[k])
        if later.size and (not changed.size or later[0] <= changed[0]):
            out.append((float(times[k]), float(times[k + later[0]] - times[k])))
    return out

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
  ones (`fit_overhead`), fitted at both calibration loads and interpolated in the CPU demand
  between them (`OverheadCurve`).
- CPU contention (the node's 2 cores are shared by the app's pods, the load generator, the
  lab and other tenants): each service is measured at two loads. With processor sharing of
  `A` cores among the app's CPU demand D (cores: the arrival rate times the measured CPU per
  request), a request's service time (the CPU work's wall time, measured by the app) is
  S(D) = S0 / (1 - D / A); the two points give S0 and
  A, the cores the node effectively has for the app (`ContentionCurve`). The run is then
  replayed once with, at each tick, the capacity that tick's demand leaves (`replay_contended`):
  start-up and backlog carry over, and a backlog built in an overloaded minute drains over the
  next ones at their capacity (the twin's fluid queue), as the app's queued requests do.
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


@dataclass(frozen=True)
class OverheadCurve:
    """The overhead against the app's CPU demand (cores), fitted at both calibration loads:
    linear in between, and beyond them the nearer point's stretched with the CPU work."""

    low_demand_cores: float
    low: Overhead
    high_demand_cores: float
    high: Overhead

    def at(self, demand_cores: float, curve: ContentionCurve) -> Overhead:
        lo, hi = self.low_demand_cores, self.high_demand_cores
        if demand_cores <= lo or hi <= lo:
            return self.low.scaled(curve.stretch(demand_cores) / curve.stretch(lo))
        if demand_cores >= hi:
            return self.high.scaled(curve.stretch(demand_cores) / curve.stretch(hi))
        f = (demand_cores - lo) / (hi - lo)
        sd = (1 - f) * math.sqrt(self.low.var_seconds2) + f * math.sqrt(self.high.var_seconds2)
        return Overhead((1 - f) * self.low.mean_seconds + f * self.high.mean_seconds, sd**2)


def _calibration_path(config: TwinConfig, measured: tuple[ServiceMeasurement, ...]
                      ) -> tuple[float, float]:
    """Mean and variance of the slowest call path at the calibration load."""
    g = config.graph
    rates = np.array([[next(m.rate_rps for m in measured if m.name == n) for n in g.names]])
    replicas = np.array([[next(m.replicas for m in measured if m.name == n) for n in g.names]])
    zeros = np.zeros(rates.shape)
    mean, var = service_moments(config, rates, Trajectory(replicas, replicas, zeros, zeros))
    p_mean, p_var = path_moments(config, mean, var)
    worst = int(p_mean[0].argmax())
    return float(p_mean[0, worst]), float(p_var[0, worst])


def fit_overhead(config: TwinConfig, measured: tuple[ServiceMeasurement, ...],
                 e2e_mean_seconds: float, e2e_p95_seconds: float) -> Overhead:
    """The overhead whose mean and variance give the measured end-to-end mean and p95 at the
    calibration load (variance 0 when the services alone already reach that p95)."""
    p_mean, p_var = _calibration_path(config, measured)
    mean = max(e2e_mean_seconds - p_mean, 0.0)

    def gap(var: float) -> float:
        return mixture_p95(np.array([p_mean + mean]), np.array([p_var + var]),
                           np.ones(1)) - e2e_p95_seconds

    if not math.isfinite(e2e_p95_seconds) or gap(0.0) >= 0:
        return Overhead(mean, 0.0)
    widest = (p_mean + mean) ** 2 / MIN_SHAPE - p_var  # the largest p95 this mean allows
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

    def window_p95_seconds(self, window_ticks: int, overhead: Overhead | None = None
                           ) -> np.ndarray:
        """End-to-end p95 per window: the slowest path's mixture, with the overhead as one more
        term on it (or, without one, the config's constant `entry_rtt_ms` added)."""
        worst = self.path_mean.argmax(axis=1)
        mean = self.path_mean[np.arange(len(worst)), worst]
        var = self.path_var[np.arange(len(worst)), worst]
        extra = self.config.entry_rtt_ms / 1000.0
        if overhead is not None:
            mean, var = mean + overhead.mean_seconds, var + overhead.var_seconds2
        return np.array([mixture_p95(mean[s], var[s], self.entry_rps[s]) + extra
                         for s in _windows(len(mean), window_ticks)])

    def service_window_p95_seconds(self, window_ticks: int) -> np.ndarray:
        """(windows, services) p95 of each service's response (its work time)."""
        rates = self.entry_rps[:, None] * self.config.visit_ratios[None, :]
        out = [[mixture_p95(self.service_mean[s, j], self.service_var[s, j], rates[s, j])
                for j in range(rates.shape[1])]
               for s in _windows(len(rates), window_ticks)]
        return np.array(out)


def _windows(ticks: int, window_ticks: int) -> list[slice]:
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


@dataclass(frozen=True)
class ContentionCurve:
    """S(D) = S0 / (1 - D / A) per service: service time against the app's CPU demand D."""

    base_seconds: dict[str, float]  # S0: a request's service time on an idle node
    cores: float  # A: the cores the node effectively has for the app (inf: no contention seen)
    max_stretch: float = 20.0

    def stretch(self, demand_cores: float) -> float:
        """How much longer CPU work takes at this demand than on an idle node."""
        left = 1.0 - demand_cores / self.cores if math.isfinite(self.cores) else 1.0
        return 1.0 / max(left, 1.0 / self.max_stretch)

    def service_rate(self, service: str, demand_cores: float) -> float:
        return 1.0 / (self.base_seconds[service] * self.stretch(demand_cores))


def demand_cores(measured: tuple[ServiceMeasurement, ...], entry_rps: float,
                 visits: dict[str, float]) -> float:
    """The app's CPU demand (cores) at an entry rate."""
    return entry_rps * sum(visits[m.name] * m.cpu_seconds_per_request for m in measured)


def entry_rate(measured: tuple[ServiceMeasurement, ...], visits: dict[str, float], entry: str
               ) -> float:
    """The entry rate a load ran at: the entry service's measured rate over its visit ratio."""
    return next(m.rate_rps for m in measured if m.name == entry) / visits[entry]


def fit_contention(low: tuple[ServiceMeasurement, ...], high: tuple[ServiceMeasurement, ...],
                   visits: dict[str, float], entry: str) -> ContentionCurve:
    """S0 and A from each service's measured service time (the CPU work's wall time) at two
    loads. A is one for the node, from the CPU-weighted service times (the heavy services carry
    the signal); S0 per service. Measured, not inverted from the mean response: near
    saturation (the high load) the queueing dominates the response and its mean over a short
    load varies far more than the service time does."""
    d_low = demand_cores(low, entry_rate(low, visits, entry), visits)
    d_high = demand_cores(low, entry_rate(high, visits, entry), visits)
    s_low = {m.name: m.service_mean_seconds for m in low}
    s_high = {m.name: m.service_mean_seconds for m in high}
    weight = {m.name: m.cpu_seconds_per_request for m in low}
    w_low = sum(weight[n] * s_low[n] for n in s_low)
    w_high = sum(weight[n] * s_high[n] for n in s_high)
    # S(D_low)(1 - D_low/A) = S(D_high)(1 - D_high/A)  =>  A
    if w_high <= w_low or d_high <= d_low:
        return ContentionCurve(s_low, math.inf)
    cores = (w_high * d_high - w_low * d_low) / (w_high - w_low)
    base = {n: s_low[n] * (1.0 - d_low / cores) for n in s_low}
    return ContentionCurve(base, cores)


def replay_contended(measured: tuple[ServiceMeasurement, ...], curve: ContentionCurve,
                     entry: str, overhead: OverheadCurve, entry_rps: np.ndarray,
                     desired: np.ndarray, initial: np.ndarray, window_ticks: int) -> np.ndarray:
    """End-to-end p95 per window, in one run of the twin whose capacity (and overhead) at each
    tick is what that tick's CPU demand leaves: a backlog built while the app is overloaded
    drains over the next ticks at their capacity, as the twin's fluid queue drains it."""
    entry_rps = np.asarray(entry_rps, dtype=float)
    base = graph_from(measured, entry)
    visits = dict(zip(base.names, base.visit_ratios(), strict=True))
    demand = [demand_cores(measured, float(r), visits) for r in entry_rps]
    stretch = np.array([curve.stretch(d) for d in demand])
    configs = {float(k): twin_config(graph_from(measured, entry, service_rates={
        n: 1.0 / (curve.base_seconds[n] * k) for n in base.names}), 0.0)
        for k in np.unique(stretch)}
    capacity = np.stack([configs[float(k)].capacity_rps for k in stretch])
    traj = run_schedule(configs[float(stretch[0])], entry_rps, desired, initial,
                        capacity_rps=capacity)
    extra = [overhead.at(d, curve) for d in demand]
    mean = np.array([e.mean_seconds for e in extra])
    var = np.array([e.var_seconds2 for e in extra])
    for k, config in configs.items():
        at = np.flatnonzero(stretch == k)
        part = Trajectory(traj.desired[at], traj.ready[at], traj.backlog_avg[at],
                          traj.dropped[at])
        s_mean, s_var = service_moments(config, entry_rps[at, None] * config.visit_ratios, part)
        p_mean, p_var = path_moments(config, s_mean, s_var)
        worst = p_mean.argmax(axis=1)
        mean[at] += p_mean[np.arange(len(at)), worst]
        var[at] += p_var[np.arange(len(at)), worst]
    return np.array([mixture_p95(mean[s], var[s], entry_rps[s])
                     for s in _windows(len(entry_rps), window_ticks)])

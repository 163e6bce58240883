"""The twin on a node whose CPU is shared, pure: CPU contention, the queue's variability and
the overhead against the load, each fitted on calibration loads measured on the node (never on
the run they are compared with). Used by `bench/shop_experiment.py` with
`evaluation/sim_to_real.py`.

- CPU contention (the node's 2 cores are shared by the app's pods, the load generator, the lab
  and other tenants): with processor sharing of `A` cores among the app's CPU demand D (cores:
  the arrival rate times the measured CPU per request), a request's service time (the CPU
  work's wall time, measured by the app) is S(D) = S0 / (1 - D / A). S(D)(1 - D/A) = S0 is
  linear in S(D) D, so the calibration loads give S0 and 1/A by least squares (two loads:
  exactly) (`fit_contention`, `ContentionCurve`).
- The queue's variability: the app's replicas wait longer for their worker than the twin's
  M/M/c says at the measured service time (callers balance on their own counts of requests in
  flight, which is not one shared queue; the node's other tenants stretch some service times
  far more than others; the interpreter lock). As in the Allen-Cunneen approximation, where a
  G/G/c queue's wait is the M/M/c wait times (Ca^2 + Cs^2) / 2, each service's wait is the
  twin's M/M/c wait times a factor (`fit_wait_scale`): the measured mean wait (work time minus
  service time) over the M/M/c mean wait at the measured service time, least squares over the
  calibration loads (the loads that queue carry it), for each number of replicas apart (one
  replica is one queue in front of one worker; with several, the callers' balancing is a
  different queue). The replay scales every wait by the factor of the replicas ready at that
  tick, the fluid backlog's drain left as it is (`scale_waits`).
- The overhead beyond the services (sim_to_real's `Overhead`) is fitted at every calibration
  load against the call path this module's replay computes at that load (contention and wait
  scale included), so the twin reproduces each calibration load's end-to-end mean and p95;
  between the loads it is linear in the demand (`fit_overhead_curve`, `OverheadCurve`).
- `replay_contended`: the run replayed once with, at each tick, the capacity that tick's demand
  leaves: start-up and backlog carry over, and a backlog built in an overloaded minute drains
  over the next ones at their capacity (the twin's fluid queue), as the app's queued requests
  do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.outcome import TIMEOUT_MS, service_moments
from envs.queueing import response_time
from envs.twin import run_schedule
from envs.twin_config import Trajectory, TwinConfig
from evaluation.sim_to_real import (
    Overhead,
    ServiceMeasurement,
    graph_from,
    mixture_p95,
    overhead_beyond,
    path_moments,
    twin_config,
    windows,
)

WAIT_SCALE_BOUNDS = (0.25, 8.0)
MIN_WAIT_SECONDS = 0.001  # M/M/c waits summed over the loads below this: no signal, scale 1
SATURATED = 0.98  # a load at this utilisation or more measured a growing queue: left out


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


@dataclass(frozen=True)
class CalibrationLoad:
    """One constant calibration load as measured: its services and the end-to-end latency."""

    services: tuple[ServiceMeasurement, ...]
    e2e_mean_seconds: float
    e2e_p95_seconds: float


def demand_cores(measured: tuple[ServiceMeasurement, ...], entry_rps: float,
                 visits: dict[str, float]) -> float:
    """The app's CPU demand (cores) at an entry rate."""
    return entry_rps * sum(visits[m.name] * m.cpu_seconds_per_request for m in measured)


def entry_rate(measured: tuple[ServiceMeasurement, ...], visits: dict[str, float], entry: str
               ) -> float:
    """The entry rate a load ran at: the entry service's measured rate over its visit ratio."""
    return next(m.rate_rps for m in measured if m.name == entry) / visits[entry]


def fit_contention(loads: Sequence[tuple[ServiceMeasurement, ...]], visits: dict[str, float],
                   entry: str) -> ContentionCurve:
    """S0 and A from each service's measured service time (the CPU work's wall time) at the
    calibration loads (the first one's CPU per request gives every load's demand). A is one for
    the node, from the CPU-weighted service times (the heavy services carry the signal); S0 per
    service, its mean over the loads. Measured, not inverted from the mean response: near
    saturation the queueing dominates the response and its mean over a short load varies far
    more than the service time does."""
    first = loads[0]
    weight = {m.name: m.cpu_seconds_per_request for m in first}
    demand = np.array([demand_cores(first, entry_rate(load, visits, entry), visits)
                       for load in loads])
    w = np.array([sum(weight[m.name] * m.service_mean_seconds for m in load) for load in loads])
    # w_k = W0 + (w_k D_k) / A: a line through the loads, slope 1/A
    x = w * demand
    inv_cores = 0.0
    if len(loads) >= 2 and np.ptp(x) > 0:
        inv_cores = float(np.polyfit(x, w, 1)[0])
    cores = 1.0 / inv_cores if inv_cores > 0 else math.inf
    base = {m.name: float(np.mean([next(n.service_mean_seconds for n in load if n.name == m.name)
                                   * (1.0 - d * inv_cores if inv_cores > 0 else 1.0)
                                   for load, d in zip(loads, demand, strict=True)]))
            for m in first}
    return ContentionCurve(base, cores)


def wait_terms(m: ServiceMeasurement) -> tuple[float, float] | None:
    """(measured mean wait, M/M/c mean wait at the measured service time) of one service at one
    load, seconds; None where the load saturated it."""
    s, c = m.service_mean_seconds, float(m.replicas * m.concurrency)
    if not s > 0 or m.rate_rps * s >= SATURATED * c:
        return None
    mmc = response_time(np.array([c]), np.array([m.rate_rps]), np.array([1.0 / s]),
                        p95=False).mean[0] - s
    return max(m.work_mean_seconds - s, 0.0), float(mmc)


@dataclass(frozen=True)
class WaitScale:
    """Each service's wait scale by its number of ready replicas, as measured; a replica count
    not measured takes the nearest measured one's (the fewer on a tie), a service never
    measured queueing 1 (M/M/c)."""

    by_replicas: dict[str, dict[int, float]]

    def at(self, service: str, replicas: int) -> float:
        known = self.by_replicas.get(service) or {}
        if not known:
            return 1.0
        return known[min(known, key=lambda k: (abs(k - replicas), k))]

    def array(self, names: Sequence[str], ready: np.ndarray) -> np.ndarray:
        """(ticks, services) scales for a ready-replica array of that shape."""
        return np.array([[self.at(n, int(r)) for n, r in zip(names, row, strict=True)]
                         for row in np.asarray(ready)], dtype=float).reshape(np.shape(ready))


def fit_wait_scale(loads: Sequence[tuple[ServiceMeasurement, ...]]) -> WaitScale:
    """Per service and replica count: measured wait over the M/M/c wait, least squares over
    the loads at that count (through the origin, so a load that queues weighs more), within
    `WAIT_SCALE_BOUNDS`; left out where no such load queued measurably."""
    terms: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for load in loads:
        for m in load:
            t = wait_terms(m)
            if t is not None:
                terms.setdefault(m.name, {}).setdefault(m.replicas, []).append(t)
    out: dict[str, dict[int, float]] = {}
    for name, by_k in terms.items():
        for k, ts in by_k.items():
            if sum(b for _, b in ts) >= MIN_WAIT_SECONDS:
                ratio = sum(a * b for a, b in ts) / sum(b * b for _, b in ts)
                out.setdefault(name, {})[k] = float(np.clip(ratio, *WAIT_SCALE_BOUNDS))
    return WaitScale(out)


def scale_waits(config: TwinConfig, traj: Trajectory, mean: np.ndarray, var: np.ndarray,
                scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The twin's per-service moments (`envs.outcome.service_moments`) with each service's
    M/M/c wait times its scale: R = S + scale W + drain, the service time S and the wait W
    independent as in M/M/c (FCFS), the backlog's drain time as it was."""
    s = config.graph.array("service_time_ms")[None, :] / 1000.0
    cap = traj.ready * config.capacity_rps
    with np.errstate(divide="ignore", invalid="ignore"):
        drain = np.where((traj.backlog_avg > 0) & (cap > 0), traj.backlog_avg / cap, 0.0)
    wait = np.maximum(mean - s - drain, 0.0)
    wait_var = np.maximum(var - s**2, 0.0)
    cap_s = TIMEOUT_MS / 1000.0
    return (np.minimum(s + scale * wait + drain, cap_s),
            np.minimum(s**2 + scale**2 * wait_var, cap_s**2))


@dataclass(frozen=True)
class ContendedRun:
    """Per tick: the app's CPU demand (cores) and the slowest call path's moments (s, s^2)."""

    demand_cores: np.ndarray
    path_mean: np.ndarray
    path_var: np.ndarray
    trajectory: Trajectory


def run_contended(measured: tuple[ServiceMeasurement, ...], curve: ContentionCurve, entry: str,
                  entry_rps: np.ndarray, desired: np.ndarray, initial: np.ndarray,
                  wait_scale: WaitScale | None = None) -> ContendedRun:
    """One run of the twin whose capacity at each tick is what that tick's CPU demand leaves,
    each service's waits scaled by `wait_scale` (default 1: M/M/c)."""
    entry_rps = np.asarray(entry_rps, dtype=float)
    base = graph_from(measured, entry)
    visits = dict(zip(base.names, base.visit_ratios(), strict=True))
    demand = np.array([demand_cores(measured, float(r), visits) for r in entry_rps])
    stretch = np.array([curve.stretch(d) for d in demand])
    configs = {float(k): twin_config(graph_from(measured, entry, service_rates={
        n: 1.0 / (curve.base_seconds[n] * k) for n in base.names}), 0.0)
        for k in np.unique(stretch)}
    capacity = np.stack([configs[float(k)].capacity_rps for k in stretch])
    traj = run_schedule(configs[float(stretch[0])], entry_rps, desired, initial,
                        capacity_rps=capacity)
    scales = (wait_scale or WaitScale({})).array(base.names, traj.ready)
    mean, var = np.zeros(len(entry_rps)), np.zeros(len(entry_rps))
    for k, config in configs.items():
        at = np.flatnonzero(stretch == k)
        part = Trajectory(traj.desired[at], traj.ready[at], traj.backlog_avg[at],
                          traj.dropped[at])
        s_mean, s_var = service_moments(config, entry_rps[at, None] * config.visit_ratios, part)
        s_mean, s_var = scale_waits(config, part, s_mean, s_var, scales[at])
        p_mean, p_var = path_moments(config, s_mean, s_var)
        worst = p_mean.argmax(axis=1)
        mean[at] = p_mean[np.arange(len(at)), worst]
        var[at] = p_var[np.arange(len(at)), worst]
    return ContendedRun(demand, mean, var, traj)


@dataclass(frozen=True)
class OverheadCurve:
    """The overhead against the app's CPU demand (cores), fitted at each calibration load
    (`points`: (demand, overhead)): linear between two neighbouring loads, and beyond the
    outermost ones that load's overhead stretched with the CPU work."""

    points: tuple[tuple[float, Overhead], ...]

    def at(self, demand_cores: float, curve: ContentionCurve) -> Overhead:
        pts = sorted(self.points, key=lambda p: p[0])
        (lo, low), (hi, high) = pts[0], pts[-1]
        if demand_cores <= lo or len(pts) == 1:
            return low.scaled(curve.stretch(demand_cores) / curve.stretch(lo))
        if demand_cores >= hi:
            return high.scaled(curve.stretch(demand_cores) / curve.stretch(hi))
        k = next(i for i in range(1, len(pts)) if demand_cores <= pts[i][0])
        (d0, a), (d1, b) = pts[k - 1], pts[k]
        f = (demand_cores - d0) / (d1 - d0) if d1 > d0 else 1.0
        sd = (1 - f) * math.sqrt(a.var_seconds2) + f * math.sqrt(b.var_seconds2)
        return Overhead((1 - f) * a.mean_seconds + f * b.mean_seconds, sd**2)


def fit_overhead_curve(measured: tuple[ServiceMeasurement, ...], curve: ContentionCurve,
                       entry: str, loads: Sequence[CalibrationLoad],
                       wait_scale: WaitScale | None = None) -> OverheadCurve:
    """The overhead at each calibration load: what its measured end-to-end mean and p95 have
    beyond the call path `run_contended` gives at that load's rate and replicas."""
    base = graph_from(measured, entry)
    visits = dict(zip(base.names, base.visit_ratios(), strict=True))
    points = []
    for load in loads:
        replicas = np.array([next(m.replicas for m in load.services if m.name == n)
                             for n in base.names])
        rate = entry_rate(load.services, visits, entry)
        run = run_contended(measured, curve, entry, np.array([rate]), replicas[None, :],
                            replicas, wait_scale)
        points.append((float(run.demand_cores[0]), overhead_beyond(
            float(run.path_mean[0]), float(run.path_var[0]), load.e2e_mean_seconds,
            load.e2e_p95_seconds)))
    return OverheadCurve(tuple(points))


def replay_contended(measured: tuple[ServiceMeasurement, ...], curve: ContentionCurve,
                     entry: str, overhead: OverheadCurve, entry_rps: np.ndarray,
                     desired: np.ndarray, initial: np.ndarray, window_ticks: int,
                     wait_scale: WaitScale | None = None) -> np.ndarray:
    """End-to-end p95 per window of `run_contended`, each tick's overhead at its demand."""
    run = run_contended(measured, curve, entry, entry_rps, desired, initial, wait_scale)
    extra = [overhead.at(float(d), curve) for d in run.demand_cores]
    mean = run.path_mean + np.array([e.mean_seconds for e in extra])
    var = run.path_var + np.array([e.var_seconds2 for e in extra])
    rates = np.asarray(entry_rps, dtype=float)
    return np.array([mixture_p95(mean[s], var[s], rates[s])
                     for s in windows(len(rates), window_ticks)])

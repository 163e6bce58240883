"""The fewest replicas that meet the SLO at a given demand, by the twin's own latency model.

This is the physical limit the clairvoyant oracle and static peak provisioning are built on. For
each tick it tries a ladder of waiting-time budgets (mean queueing wait as a fraction of the
service time, the same for every service), sizes each service to the smallest replica count
within its budget and below `MAX_UTILISATION`, and keeps the loosest budget whose end-to-end p95
still meets the SLO. Sizing depends on the entry rate only, so it is computed once per distinct
entry rate, rounded up to a 0.5% grid (conservative), and looked up.

`slo_floor` is the same sizing at what a controller observes (each service's request rate): the
guardrails' default floor (scaler/slo_floor.py), in the twin and in the cluster alike.
"""

from __future__ import annotations

import numpy as np

from envs.outcome import tick_metrics
from envs.queueing import erlang_c
from envs.twin_config import Trajectory, TwinConfig

WAIT_BUDGETS = (2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.0)  # loosest first
MAX_UTILISATION = 0.95
SLO_MARGIN = 0.98  # size to 98% of the SLO's p95
GRID = 1.005


def _within_budget(
    config: TwinConfig, replicas: np.ndarray, rates: np.ndarray, budget: float
) -> np.ndarray:
    conc = config.graph.array("concurrency")
    mu = 1000.0 / config.graph.array("service_time_ms")
    servers = replicas * conc
    a = rates / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = erlang_c(servers, a) / (servers * mu - rates)
    ok_util = rates <= MAX_UTILISATION * replicas * config.capacity_rps
    ok: np.ndarray = ok_util & (wait <= budget / mu + 1e-15)
    return ok


def _size(config: TwinConfig, rates: np.ndarray, budget: float) -> np.ndarray:
    """Smallest replicas per (row, service) within the wait budget (capped at max_replicas)."""
    lo = np.maximum(np.ceil(rates / (MAX_UTILISATION * config.capacity_rps)), config.min_replicas)
    lo = np.minimum(lo, config.max_replicas).astype(int)
    hi = lo.copy()
    while True:  # grow an upper bracket
        ok = _within_budget(config, hi, rates, budget) | (hi >= config.max_replicas)
        if ok.all():
            break
        hi = np.where(ok, hi, np.minimum(2 * hi - lo + 1, config.max_replicas))
    while np.any(hi > lo):  # bisect: lo fails or is the answer, hi succeeds
        mid = (lo + hi) // 2
        ok = _within_budget(config, mid, rates, budget)
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid + 1)
        lo = np.minimum(lo, hi)
    result: np.ndarray = hi
    return result


def grid_level(entry_rps: np.ndarray) -> np.ndarray:
    """Entry rates rounded up to the 0.5% grid the sizing is computed on (0 stays 0)."""
    entry = np.asarray(entry_rps, dtype=float)
    level: np.ndarray = np.where(
        entry > 0, GRID ** np.ceil(np.log(np.maximum(entry, 1e-9)) / np.log(GRID)), 0.0)
    return level


def implied_entry_rps(config: TwinConfig, rate_rps: np.ndarray) -> float:
    """The entry rate that loads every service at least as much as its observed request rate:
    the largest rate / visit ratio (services no request visits are ignored)."""
    visits = config.visit_ratios
    rate = np.nan_to_num(np.asarray(rate_rps, dtype=float), nan=0.0, posinf=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        implied = np.where(visits > 0, np.maximum(rate, 0.0) / visits, 0.0)
    return float(implied.max(initial=0.0))


def slo_floor(config: TwinConfig, rate_rps: np.ndarray) -> np.ndarray:
    """Per service: the fewest replicas that meet the SLO at the observed request rates (the
    twin's own sizing, `required_replicas`, at `implied_entry_rps`)."""
    entry = np.array([implied_entry_rps(config, rate_rps)])
    result: np.ndarray = required_replicas(config, entry)[0]
    return result


def required_replicas(config: TwinConfig, entry_rps: np.ndarray) -> np.ndarray:
    """(ticks, services) replicas that meet the SLO at each tick's entry demand, if any can."""
    grid = grid_level(entry_rps)
    levels, index = np.unique(grid, return_inverse=True)
    rates = levels[:, None] * config.visit_ratios[None, :]
    best = np.tile(config.max_replicas, (len(levels), 1))
    found = np.zeros(len(levels), dtype=bool)
    target = SLO_MARGIN * config.slo.p95_latency_ms
    for budget in WAIT_BUDGETS:
        n = _size(config, rates, budget)
        zeros = np.zeros(n.shape)
        m = tick_metrics(config, rates, Trajectory(n, n, zeros, zeros), service_p95=False)
        take = ~found & (m.e2e_p95_ms <= target)
        best[take], found = n[take], found | take
        if found.all():
            break
    result: np.ndarray = best[index]
    return result


def lead_schedule(config: TwinConfig, required: np.ndarray) -> np.ndarray:
    """Desired replicas so that `required[u]` is ready at every tick u: pods start in time.

    desired[t] = max(required[t .. t + startup_ticks]) per service, the least that does it.
    """
    out = np.empty_like(required)
    n = len(required)
    for s, k in enumerate(config.startup_ticks):
        padded = np.concatenate([required[:, s], np.full(k, required[-1, s])])
        out[:, s] = np.lib.stride_tricks.sliding_window_view(padded, k + 1).max(axis=1)[:n]
    return out

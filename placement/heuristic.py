"""The fast solver: greedy start plus local search, vectorised over all stores at once.

For each candidate home region r, every store starts from the cheaper site of each service by
its own (unary) score, then repeatedly applies the best of all moves that flip one or two
services between the store and r (which covers moving a chatty pair together and swapping one
service for another under a full store). Capacity and bandwidth overruns are penalised, so the
search walks back to feasibility. Each store keeps the best home region. The plan carries the LP
relaxation's optimum as a bound, so the gap it reports is a certificate, not an estimate.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from placement.diagnose import precheck
from placement.errors import InfeasibleError
from placement.framework import EDGE, BoolArray, FloatArray, IntArray, Problem
from placement.milp import lp_bound
from placement.plan import Plan, SolverKind

_PENALTY = 1.0e6  # dollars per unit of relative overrun: infeasible beats nothing
_MAX_ROUNDS = 60


@dataclass(frozen=True)
class _HomeView:
    """The problem seen from one home region: each service is either local (True) or in r."""

    ue: FloatArray  # (S, J) cost at the store
    uc: FloatArray  # (S, J) cost in region r
    cross: FloatArray  # (S, E) cost if the call crosses
    ok_edge: BoolArray
    ok_cloud: BoolArray
    p: Problem

    @classmethod
    def of(cls, p: Problem, r: int) -> _HomeView:
        return cls(p.unary[:, :, EDGE], p.unary[:, :, 1 + r], p.cross[:, :, r],
                   p.allowed[:, :, EDGE], p.allowed[:, :, 1 + r], p)

    def evaluate(self, local: BoolArray) -> tuple[FloatArray, BoolArray]:
        """Penalised cost (..., S) and whether the site choice is allowed, for local (..., S, J)."""
        p = self.p
        cost = np.where(local, self.ue, self.uc).sum(axis=-1)
        if len(p.calls):
            crosses = local[..., p.calls[:, 0]] != local[..., p.calls[:, 1]]
            cost = cost + (crosses * self.cross).sum(axis=-1)
            over_bw = (crosses * p.call_mbps).sum(axis=-1) - p.bandwidth_mbps
            cost = cost + _PENALTY * np.maximum(over_bw, 0.0) / p.bandwidth_mbps
        for need, cap in ((p.cpu_millicores, p.cpu_capacity), (p.memory_mib, p.memory_capacity),
                          (p.gpus, p.gpu_capacity)):
            over = (local * need).sum(axis=-1) - cap
            cost = cost + _PENALTY * np.maximum(over, 0.0) / np.maximum(cap, 1.0)
        ok = np.where(local, self.ok_edge, self.ok_cloud).all(axis=-1)
        for j, k in p.closure:
            ok &= ~(local[..., j] & ~local[..., k])
        return np.asarray(cost, dtype=float), np.asarray(ok, dtype=bool)


def _moves(n_j: int) -> BoolArray:
    """(M, J) flip masks: every single service and every pair."""
    singles: list[tuple[int, ...]] = [(j,) for j in range(n_j)]
    pairs: list[tuple[int, ...]] = list(itertools.combinations(range(n_j), 2))
    masks = np.zeros((len(singles) + len(pairs), n_j), dtype=bool)
    for m, idx in enumerate(singles + pairs):
        masks[m, list(idx)] = True
    return masks


def _starts(view: _HomeView) -> tuple[BoolArray, ...]:
    """Greedy by each service's own score; everything local that may be; everything in cloud."""
    must = view.ok_edge & ~view.ok_cloud
    return (view.ok_edge & (must | (view.ue <= view.uc)), view.ok_edge.copy(), must)


def _search(view: _HomeView, masks: BoolArray,
            local: BoolArray) -> tuple[BoolArray, FloatArray, BoolArray]:
    cost, ok = view.evaluate(local)
    stores = np.arange(len(local))
    for _ in range(_MAX_ROUNDS):
        cand = local[None, :, :] ^ masks[:, None, :]  # (M, S, J)
        c_cost, c_ok = view.evaluate(cand)
        c_cost = np.where(c_ok, c_cost, np.inf)
        best = c_cost.argmin(axis=0)
        gain = c_cost[best, stores] < cost - 1e-12
        if not gain.any():
            break
        local = np.where(gain[:, None], cand[best, stores], local)
        cost = np.where(gain, c_cost[best, stores], cost)
        ok = ok | gain
    return local, cost, ok


def solve_heuristic(p: Problem, *, with_bound: bool = True) -> Plan:
    """A feasible plan in well under a second per thousand stores, with its gap to the LP bound."""
    precheck(p)
    start = time.perf_counter()
    n_s, n_j, n_k = p.shape
    masks = _moves(n_j)
    best_cost = np.full(n_s, np.inf)
    site = np.zeros((n_s, n_j), dtype=np.int64)
    home = np.zeros(n_s, dtype=np.int64)
    for r in range(n_k - 1):
        view = _HomeView.of(p, r)
        for start_local in _starts(view):
            local, cost, ok = _search(view, masks, start_local)
            better = ok & (cost < best_cost)
            best_cost = np.where(better, cost, best_cost)
            site[better] = np.where(local[better], EDGE, 1 + r)
            home[better] = r
    _check(p, best_cost)
    seconds = time.perf_counter() - start
    bound = lp_bound(p) if with_bound else None
    return Plan(p, site, home, SolverKind.HEURISTIC, optimal=False,
                lower_bound_usd_per_hour=bound, seconds=seconds)


def _check(p: Problem, cost: FloatArray) -> None:
    bad = np.nonzero(~np.isfinite(cost) | (cost >= _PENALTY / 1e3))[0]
    if len(bad):
        raise InfeasibleError(
            f"{p.ctx.topology.stores[bad[0]].name}: the heuristic found no plan within capacity "
            f"and WAN bandwidth; try --solver milp")


def sites_from_local(local: BoolArray, r: int) -> IntArray:
    return np.where(local, EDGE, 1 + r).astype(np.int64)

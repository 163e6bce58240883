"""The fast solver: greedy start plus local search, vectorised over stores, with exact feasibility.

For each candidate home region r, every store starts from the cheaper site of each service by
its own (unary) score, then repeatedly applies the best of all moves that flip one or two
services between the store and r (which covers moving a chatty pair together and swapping one
service for another under a full store). Moves are ranked lexicographically: first by how far
the plan overruns capacity and WAN bandwidth (so the search walks back to feasibility), then by
cost. Feasibility is decided constraint by constraint (`plan.feasible_stores`), never by a
penalty threshold: a plan that overruns a store by one millicore is infeasible.

Stores the local search leaves without a feasible plan are handed to the exact solver one block
at a time (`Plan.exact_stores` counts them), so the heuristic never fails where a plan exists and
an infeasible instance is reported with its true culprit. The plan carries the LP relaxation's
optimum as a bound only after the plan itself passed every constraint check, so the gap it
reports is a certificate.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from placement.diagnose import precheck
from placement.errors import SolverError
from placement.framework import EDGE, BoolArray, FloatArray, IntArray, Problem
from placement.milp import lp_bound, solve_milp
from placement.plan import CAPACITY_TOLERANCE, Plan, SolverKind, store_costs, violations

_MAX_ROUNDS = 60
STORES_PER_CHUNK = 1000  # local search works on this many stores at once (bounds memory)


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

    def evaluate(self, local: BoolArray) -> tuple[FloatArray, FloatArray]:
        """Cost (..., S) and overrun (..., S) for local (..., S, J).

        The overrun is the sum of relative excesses over CPU, memory, GPU and WAN capacity, each
        beyond the same absolute tolerance `plan.violations` allows; it is infinite when a
        service is on a site a Filter ruled out or the offline closure is broken. A site choice
        is feasible exactly when its overrun is 0.
        """
        p = self.p
        cost = np.where(local, self.ue, self.uc).sum(axis=-1)
        over = np.zeros(cost.shape)
        if len(p.calls):
            crosses = local[..., p.calls[:, 0]] != local[..., p.calls[:, 1]]
            cost = cost + (crosses * self.cross).sum(axis=-1)
            used = (crosses * p.call_mbps).sum(axis=-1)
            over += _excess(used, p.bandwidth_mbps)
        for need, cap in ((p.cpu_millicores, p.cpu_capacity), (p.memory_mib, p.memory_capacity),
                          (p.gpus, p.gpu_capacity)):
            over += _excess((local * need).sum(axis=-1), cap)
        ok = np.where(local, self.ok_edge, self.ok_cloud).all(axis=-1)
        for j, k in p.closure:
            ok &= ~(local[..., j] & ~local[..., k])
        over = np.where(ok, over, np.inf)
        return np.asarray(cost, dtype=float), np.asarray(over, dtype=float)


def _excess(used: FloatArray, cap: FloatArray) -> FloatArray:
    return np.asarray(np.maximum(used - cap - CAPACITY_TOLERANCE, 0.0) / np.maximum(cap, 1.0))


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
            local: BoolArray) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Best-improvement local search, lexicographic in (overrun, cost)."""
    cost, over = view.evaluate(local)
    stores = np.arange(len(local))
    for _ in range(_MAX_ROUNDS):
        cand = local[None, :, :] ^ masks[:, None, :]  # (M, S, J)
        c_cost, c_over = view.evaluate(cand)
        least = c_over.min(axis=0)
        best = np.where(c_over <= least[None, :], c_cost, np.inf).argmin(axis=0)
        b_over, b_cost = c_over[best, stores], c_cost[best, stores]
        lower = b_over < over
        gain = np.isfinite(b_over) & (lower | ((b_over == over) & (b_cost < cost - 1e-12)))
        if not gain.any():
            break
        local = np.where(gain[:, None], cand[best, stores], local)
        cost = np.where(gain, b_cost, cost)
        over = np.where(gain, b_over, over)
    return local, cost, over


def _local_search(p: Problem) -> tuple[IntArray, IntArray, BoolArray]:
    """Sites, home regions and which stores have a feasible plan, for one chunk of stores."""
    n_s, n_j, n_k = p.shape
    masks = _moves(n_j)
    best_cost = np.full(n_s, np.inf)
    site = np.zeros((n_s, n_j), dtype=np.int64)
    home = np.zeros(n_s, dtype=np.int64)
    for r in range(n_k - 1):
        view = _HomeView.of(p, r)
        for start_local in _starts(view):
            local, cost, over = _search(view, masks, start_local)
            better = (over == 0.0) & (cost < best_cost)
            best_cost = np.where(better, cost, best_cost)
            site[better] = np.where(local[better], EDGE, 1 + r)
            home[better] = r
    return site, home, np.isfinite(best_cost)


def solve_heuristic(p: Problem, *, with_bound: bool = True) -> Plan:
    """A feasible plan in about a second per thousand stores, with its gap to the LP bound.

    Raises InfeasibleError (naming the store and the constraints that bind) only when the exact
    solver confirms that no plan exists for some store.
    """
    precheck(p)
    start = time.perf_counter()
    n_s, n_j, _ = p.shape
    site = np.zeros((n_s, n_j), dtype=np.int64)
    home = np.zeros(n_s, dtype=np.int64)
    found = np.zeros(n_s, dtype=bool)
    for lo in range(0, n_s, STORES_PER_CHUNK):
        chunk = np.arange(lo, min(lo + STORES_PER_CHUNK, n_s))
        sub = p if len(chunk) == n_s else p.for_stores(chunk)
        site[chunk], home[chunk], found[chunk] = _local_search(sub)
    rest = np.nonzero(~found)[0]
    if len(rest):
        exact = solve_milp(p.for_stores(rest))  # raises InfeasibleError with the culprit
        site[rest], home[rest] = exact.site, exact.home
    _certify(p, site, home)
    seconds = time.perf_counter() - start
    bound = lp_bound(p) if with_bound else None
    if bound is not None and float(store_costs(p, site, home).sum()) < bound - 1e-6 * max(
            1.0, abs(bound)):
        raise SolverError(f"heuristic plan costs less than the LP bound ${bound:.6f}/h: the "
                          f"bound or the plan is wrong; use --solver milp")
    return Plan(p, site, home, SolverKind.HEURISTIC, optimal=False,
                lower_bound_usd_per_hour=bound, seconds=seconds, exact_stores=len(rest))


def _certify(p: Problem, site: IntArray, home: IntArray) -> None:
    """Every constraint, checked by `plan.violations` (code the search does not share)."""
    broken = violations(p, site, home)
    if broken:
        raise SolverError(f"heuristic produced an infeasible plan ({broken[0]}); use "
                          f"--solver milp")


def sites_from_local(local: BoolArray, r: int) -> IntArray:
    return np.where(local, EDGE, 1 + r).astype(np.int64)

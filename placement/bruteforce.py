"""The reference solver for tiny instances: try every site for every service of every store.

It shares nothing with the MILP but the Problem arrays and `plan.violations`/`plan.store_costs`,
so tests use it to check the MILP's formulation and the heuristic's claims. Stores share no
constraint, so the fleet's optimum is each store's optimum; every store still enumerates all
K^J site vectors (home region = the one region its cloud services use).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from placement.errors import InfeasibleError, PlacementError
from placement.framework import EDGE, IntArray, Problem
from placement.plan import Plan, SolverKind, store_costs, violations

MAX_CANDIDATES_PER_STORE = 600_000


def _candidates(n_j: int, n_k: int) -> IntArray:
    if n_k**n_j > MAX_CANDIDATES_PER_STORE:
        raise PlacementError(f"brute force is for tiny instances: {n_k}^{n_j} site vectors per "
                             f"store exceed {MAX_CANDIDATES_PER_STORE}")
    return np.array(list(itertools.product(range(n_k), repeat=n_j)), dtype=np.int64)


def _best_for_store(p: Problem, s: int, cands: IntArray) -> tuple[IntArray, int]:
    single = p.for_stores([s])
    costs = store_costs(single, cands, np.zeros(len(cands), dtype=np.int64))
    for c in np.argsort(costs, kind="stable"):
        regions = set(cands[c][cands[c] != EDGE].tolist())
        if len(regions) > 1:
            continue
        home = regions.pop() - 1 if regions else 0
        if not violations(single, cands[c:c + 1], np.array([home])):
            return cands[c], home
    raise InfeasibleError(f"{p.ctx.topology.stores[s].name}: no site vector meets every "
                          f"requirement")


def solve_brute_force(p: Problem) -> Plan:
    start = time.perf_counter()
    n_s, n_j, n_k = p.shape
    cands = _candidates(n_j, n_k)
    site = np.zeros((n_s, n_j), dtype=np.int64)
    home = np.zeros(n_s, dtype=np.int64)
    for s in range(n_s):
        site[s], home[s] = _best_for_store(p, s, cands)
    return Plan(p, site, home, SolverKind.BRUTE_FORCE, optimal=True,
                seconds=time.perf_counter() - start)

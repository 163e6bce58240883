"""The exact solver: one mixed-integer program solved by HiGHS (highspy), and its LP bound.

Variables, per store s:
    x[s, j, k] in {0, 1}   service j runs on site k (0 = the store, 1 + r = region r)
    y[s, r]    in {0, 1}   region r is the store's home region
    d[s, e, r] in [0, 1]   call e crosses the WAN to region r (one end local, the other in r)
Minimise  sum unary[s, j, k] x[s, j, k] + sum cross[s, e, r] d[s, e, r]
subject to
    sum_k x[s, j, k] = 1;  x[s, j, 1 + r] <= y[s, r];  sum_r y[s, r] = 1
    d[s, e, r] >= |x[s, caller, 1 + r] - x[s, callee, 1 + r]|       (both rows)
    sum_j cpu[s, j] x[s, j, 0] <= cpu capacity (and memory, GPUs)
    sum_e mbps[s, e] sum_r d[s, e, r] <= usable WAN bandwidth
    x[s, k, 0] >= x[s, j, 0] for offline j and every k it reaches      (offline closure)
    x[s, j, k] = 0 where a Filter plugin ruled site k out

Stores share no constraint, so the LP bound is separable: `lp_bound` solves it block by block
(`BOUND_STORES_PER_BLOCK` stores at a time) and adds the optima, which equals the whole LP's
optimum while keeping memory flat in the fleet's size. When HiGHS proves the MILP infeasible,
`placement.diagnose.find_culprit` names the store and the constraints that bind there.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from placement.diagnose import find_culprit, precheck
from placement.errors import InfeasibleError, SolverError
from placement.formulation import build_model, run_model
from placement.framework import Problem
from placement.plan import Plan, SolverKind

BOUND_STORES_PER_BLOCK = 50  # measured: 20-100 stores per block are equally fast


def _block_bound(p: Problem, time_limit_seconds: float) -> float:
    lp, _ = build_model(p, integer=False)
    h = run_model(lp, time_limit_seconds)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError("the LP relaxation is infeasible")
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"HiGHS LP ended with status {h.modelStatusToString(status)}")
    return float(h.getInfo().objective_function_value)


def lp_bound(p: Problem, *, time_limit_seconds: float = 60.0,
             stores_per_block: int = BOUND_STORES_PER_BLOCK) -> float:
    """The LP relaxation's optimum: a lower bound on every plan's cost (solved per block)."""
    n_s = p.shape[0]
    if n_s <= stores_per_block:
        return _block_bound(p, time_limit_seconds)
    deadline = time.perf_counter() + time_limit_seconds
    total = 0.0
    for lo in range(0, n_s, stores_per_block):
        left = max(deadline - time.perf_counter(), 1e-3)
        total += _block_bound(p.for_stores(np.arange(lo, min(lo + stores_per_block, n_s))), left)
    return total


def solve_milp(p: Problem, *, time_limit_seconds: float = 60.0) -> Plan:
    """The cost-optimal plan (within HiGHS's 1e-6 relative gap)."""
    precheck(p)
    start = time.perf_counter()
    lp, lay = build_model(p, integer=True)
    h = run_model(lp, time_limit_seconds)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InfeasibleError(find_culprit(p))
    info = h.getInfo()
    if info.primal_solution_status != 2:  # no feasible point
        raise SolverError(f"HiGHS found no plan: {h.modelStatusToString(status)}")
    col = np.asarray(h.getSolution().col_value)
    site = col[lay.x()].argmax(axis=2).astype(np.int64)
    home = col[lay.y()].argmax(axis=1).astype(np.int64) if lay.n_r else np.zeros(
        lay.n_s, dtype=np.int64)
    return Plan(p, site, home, SolverKind.MILP, optimal=status == highspy.HighsModelStatus.kOptimal,
                lower_bound_usd_per_hour=float(info.mip_dual_bound),
                seconds=time.perf_counter() - start)

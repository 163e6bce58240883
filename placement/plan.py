"""A plan: for every store and service, the site it runs on; and how much that costs.

`site[s, j]` is 0 for store s's own edge cluster, 1 + r for cloud region r; `home[s]` is the one
region store s's cloud-placed services use. Costs and constraint checks here are written
independently of any solver, so tests can use them to check solvers against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from placement.framework import EDGE, FloatArray, IntArray, Problem

CAPACITY_TOLERANCE = 1e-6  # absolute slack on capacity and bandwidth rows (HiGHS's is 1e-7)
PENALTY_SCORES = frozenset({"Unreachable", "BrokenCall", "Churn"})  # not money: re-plan prices


class SolverKind(StrEnum):
    MILP = "milp"
    HEURISTIC = "heuristic"
    BRUTE_FORCE = "brute-force"
    BASELINE = "baseline"


@dataclass(frozen=True, eq=False)
class Plan:
    problem: Problem
    site: IntArray  # (S, J)
    home: IntArray  # (S,)
    solver: SolverKind
    optimal: bool
    lower_bound_usd_per_hour: float | None = None
    seconds: float = 0.0
    exact_stores: int = 0  # heuristic: stores its local search could not fit, solved exactly

    @property
    def objective_usd_per_hour(self) -> float:
        return float(store_costs(self.problem, self.site, self.home).sum())

    @property
    def gap(self) -> float | None:
        """(objective - lower bound) / objective, or None without a bound."""
        if self.lower_bound_usd_per_hour is None:
            return None
        obj = self.objective_usd_per_hour
        return max(0.0, (obj - self.lower_bound_usd_per_hour) / obj) if obj > 0 else 0.0

    def site_name(self, s: int, j: int) -> str:
        return self.problem.ctx.site_name(s, int(self.site[s, j]))


def crossing_regions(problem: Problem, site: IntArray) -> IntArray:
    """(S, E) region index a call crosses the WAN to, or -1 when both ends share a site."""
    if len(problem.calls) == 0:
        return np.zeros((len(site), 0), dtype=np.int64)
    a, b = site[:, problem.calls[:, 0]], site[:, problem.calls[:, 1]]
    crosses = (a == EDGE) != (b == EDGE)
    return np.where(crosses, np.maximum(a, b) - 1, -1).astype(np.int64)


def _gather_unary(parts: FloatArray, site: IntArray) -> FloatArray:
    """(..., S) sum over services of parts[..., s, j, site[s, j]]."""
    idx = site[..., None].reshape((1,) * (parts.ndim - site.ndim - 1) + (*site.shape, 1))
    return np.asarray(np.take_along_axis(parts, idx, axis=-1)[..., 0].sum(axis=-1), dtype=float)


def _gather_cross(parts: FloatArray, regions: IntArray) -> FloatArray:
    if parts.shape[-2] == 0:
        return np.zeros(np.broadcast_shapes(parts.shape[:-2], regions.shape[:-1]))
    clipped = np.maximum(regions, 0)[..., None]
    idx = clipped.reshape((1,) * (parts.ndim - clipped.ndim) + clipped.shape)
    picked = np.take_along_axis(parts, idx, axis=-1)[..., 0]
    return np.asarray(np.where(regions >= 0, picked, 0.0).sum(axis=-1), dtype=float)


def store_costs(problem: Problem, site: IntArray, home: IntArray) -> FloatArray:
    """(S,) dollars per hour of each store's part of the plan."""
    return _gather_unary(problem.unary, site) + _gather_cross(
        problem.cross, crossing_regions(problem, site))


def cost_breakdown(problem: Problem, site: IntArray) -> dict[str, float]:
    """Dollars per hour by score plugin, over the whole fleet."""
    out = {n: float(_gather_unary(problem.unary_parts[i], site).sum())
           for i, n in enumerate(problem.score_names)}
    regions = crossing_regions(problem, site)
    for i, n in enumerate(problem.call_score_names):
        out[n] = float(_gather_cross(problem.cross_parts[i], regions).sum())
    return out


def split_cost(breakdown: dict[str, float]) -> tuple[float, float]:
    """(cost, penalties) in dollars per hour: money spent, and the re-plan's prices of unserved
    requests, broken calls and churn (`PENALTY_SCORES`), which are not money."""
    penalty = sum(v for k, v in breakdown.items() if k in PENALTY_SCORES)
    return sum(breakdown.values()) - penalty, penalty


def store_penalties(problem: Problem, site: IntArray) -> FloatArray:
    """(S,) the `PENALTY_SCORES` part of each store's cost."""
    out = np.zeros(len(site))
    for i, n in enumerate(problem.score_names):
        if n in PENALTY_SCORES:
            out += _gather_unary(problem.unary_parts[i], site)
    regions = crossing_regions(problem, site)
    for i, n in enumerate(problem.call_score_names):
        if n in PENALTY_SCORES:
            out += _gather_cross(problem.cross_parts[i], regions)
    return out


def edge_usage(problem: Problem, site: IntArray) -> dict[str, FloatArray]:
    """(S,) resources each store's edge cluster and WAN carry under `site`."""
    local = site == EDGE
    regions = crossing_regions(problem, site)
    return {
        "cpu_millicores": (problem.cpu_millicores * local).sum(axis=1),
        "memory_mib": (problem.memory_mib * local).sum(axis=1),
        "gpus": (problem.gpus[None, :] * local).sum(axis=1),
        "wan_mbps": (problem.call_mbps * (regions >= 0)).sum(axis=1),
    }


def violations(problem: Problem, site: IntArray, home: IntArray) -> list[str]:
    """Every constraint `site`/`home` break, one line each (empty when feasible)."""
    ctx, out = problem.ctx, []
    names, stores = ctx.app.names, ctx.topology.stores
    allowed = np.take_along_axis(problem.allowed, site[:, :, None], axis=2)[:, :, 0]
    off_home = (site != EDGE) & (site != home[:, None] + 1)
    for s, j in zip(*np.nonzero(~allowed | off_home), strict=True):
        why = "outside its home region" if allowed[s, j] else "on a filtered site"
        out.append(f"{stores[s].name}: {names[j]} on {ctx.site_name(s, int(site[s, j]))} {why}")
    use = edge_usage(problem, site)
    limits = (("cpu_millicores", problem.cpu_capacity), ("memory_mib", problem.memory_capacity),
              ("gpus", problem.gpu_capacity), ("wan_mbps", problem.bandwidth_mbps))
    for key, cap in limits:
        for s in np.nonzero(use[key] > cap + CAPACITY_TOLERANCE)[0]:
            out.append(f"{stores[s].name}: {key} {use[key][s]:.1f} exceeds {cap[s]:.1f}")
    for j, k in problem.closure:
        for s in np.nonzero((site[:, j] == EDGE) & (site[:, k] != EDGE))[0]:
            out.append(f"{stores[s].name}: offline {names[j]} is local but its callee "
                       f"{names[k]} is not")
    return out

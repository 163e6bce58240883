"""Baseline plans to compare against: everything in cloud, and everything at the edge that fits.

Both ignore the solvers' objective; "all in cloud" also ignores the PII, offline and GPU
requirements (run `plan.violations` on it to see which it breaks). Each store uses its nearest
region (lowest WAN RTT) as home.
"""

from __future__ import annotations

import numpy as np

from placement.framework import EDGE, IntArray, Problem
from placement.plan import Plan, SolverKind


def _nearest_region(p: Problem) -> IntArray:
    return np.asarray(p.ctx.wan_rtt_ms().argmin(axis=1), dtype=np.int64)


def all_in_cloud(p: Problem) -> Plan:
    """Every service of every store in the store's nearest region."""
    home = _nearest_region(p)
    site = np.repeat((home + 1)[:, None], p.shape[1], axis=1)
    return Plan(p, site, home, SolverKind.BASELINE, optimal=False)


def all_at_edge_where_fits(p: Problem) -> Plan:
    """Services go to the store in call order from the entry while CPU, memory and GPUs last;
    what does not fit (or may not run there) goes to the nearest region."""
    home = _nearest_region(p)
    n_s, n_j, _ = p.shape
    site = np.repeat((home + 1)[:, None], n_j, axis=1)
    order = p.ctx.app.graph.topological_order()
    for s in range(n_s):
        room = np.array([p.cpu_capacity[s], p.memory_capacity[s], p.gpu_capacity[s]])
        for j in order:
            need = np.array([p.cpu_millicores[s, j], p.memory_mib[s, j], p.gpus[j]])
            if p.allowed[s, j, EDGE] and (need <= room + 1e-9).all():
                site[s, j] = EDGE
                room -= need
    return Plan(p, site, home, SolverKind.BASELINE, optimal=False)

"""The plan as a document (`plan.json`, schema in placement/schema/plan.schema.json) and as a
summary table for the terminal."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

from placement.explain import Explanation, explain_plan
from placement.failover import Failover, local_only
from placement.framework import EDGE
from placement.plan import (
    Plan,
    cost_breakdown,
    edge_usage,
    split_cost,
    store_costs,
    store_penalties,
)

API_VERSION = "edgewise.io/v1alpha1"


def plan_schema() -> dict[str, Any]:
    text = resources.files("placement.schema").joinpath("plan.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _assignment(plan: Plan, s: int, j: int, why: Explanation) -> dict[str, Any]:
    p = plan.problem
    k = int(plan.site[s, j])
    return {
        "service": p.ctx.app.names[j],
        "site": plan.site_name(s, j),
        "site_kind": "edge" if k == EDGE else "cloud",
        "rps": round(float(p.ctx.rps()[s, j]), 4),
        "cpu_millicores": round(float(p.cpu_millicores[s, j]), 1),
        "memory_mib": round(float(p.memory_mib[s, j]), 1),
        "gpus": int(p.gpus[j]) if k == EDGE else 0,
        "reason": why.reason.value,
        "message": why.message,
        "note": why.note,
    }


def _store(plan: Plan, s: int, whys: list[Explanation], usage: dict[str, Any],
           cost: tuple[float, float], offline: np.ndarray) -> dict[str, Any]:
    p = plan.problem
    return {
        "name": p.ctx.topology.stores[s].name,
        "home_region": p.ctx.topology.regions[int(plan.home[s])].name,
        "cost_usd_per_hour": round(cost[0], 6),
        "penalty_usd_per_hour": round(cost[1], 6),
        "usage": {
            "cpu_millicores": round(float(usage["cpu_millicores"][s]), 1),
            "cpu_capacity_millicores": float(p.cpu_capacity[s]),
            "memory_mib": round(float(usage["memory_mib"][s]), 1),
            "memory_capacity_mib": float(p.memory_capacity[s]),
            "gpus": int(usage["gpus"][s]),
            "gpu_capacity": int(p.gpu_capacity[s]),
            "wan_mbps": round(float(usage["wan_mbps"][s]), 3),
            "wan_capacity_mbps": round(float(p.bandwidth_mbps[s]), 3),
        },
        "offline_services": [p.ctx.app.names[j] for j in np.nonzero(offline)[0]],
        "assignments": [_assignment(plan, s, j, whys[j]) for j in range(p.shape[1])],
    }


def _failover(f: Failover) -> dict[str, Any]:
    return {
        "wan_lost": sorted(f.failures.wan_lost),
        "regions_down": sorted(f.failures.regions_down),
        "sites_down": sorted(f.failures.sites_down),
        "degraded": {k: v for k, v in sorted(f.failures.degraded)},
        "affected_stores": list(f.affected_stores),
        "working_before": {k: list(v) for k, v in f.working_before.items()},
        "working_after": {k: list(v) for k, v in f.working_after.items()},
        "lost_after": {k: list(v) for k, v in f.lost_after.items()},
        "replan_seconds": round(f.seconds, 4),
        "moves": [{
            "store": m.store, "service": m.service, "from": m.from_site, "to": m.to_site,
            "reason": m.reason.value, "message": m.message,
            "ready_after_seconds": m.ready_after_seconds,
            "steps": [f"start {m.service} on {m.to_site}",
                      f"wait until ready (~{m.ready_after_seconds:g} s)",
                      f"shift {m.store}'s traffic to {m.to_site}",
                      f"retire {m.service} on {m.from_site}"],
        } for m in f.moves],
    }


def plan_document(plan: Plan, failover: Failover | None = None) -> dict[str, Any]:
    """The `plan.json` document (for a failover, of the plan after the re-plan)."""
    p = plan.problem
    whys = explain_plan(plan, None if failover is None else failover.before)
    usage = edge_usage(p, plan.site)
    penalties = store_penalties(p, plan.site)
    costs = store_costs(p, plan.site, plan.home) - penalties
    offline = local_only(plan)
    gap = plan.gap
    breakdown = cost_breakdown(p, plan.site)
    cost, penalty = split_cost(breakdown)
    return {
        "apiVersion": API_VERSION,
        "kind": "PlacementPlan",
        "topology": p.ctx.topology.name,
        "app": p.ctx.app.graph.name,
        "solver": plan.solver.value,
        "optimal": plan.optimal,
        "objective_usd_per_hour": round(plan.objective_usd_per_hour, 6),
        "cost_usd_per_hour": round(cost, 6),
        "penalty_usd_per_hour": round(penalty, 6),
        "lower_bound_usd_per_hour": (None if plan.lower_bound_usd_per_hour is None
                                     else round(plan.lower_bound_usd_per_hour, 6)),
        "gap": None if gap is None else round(gap, 6),
        "solve_seconds": round(plan.seconds, 4),
        "exact_stores": plan.exact_stores,
        "cost_breakdown_usd_per_hour": {k: round(v, 6) for k, v in breakdown.items()},
        "regions": [r.name for r in p.ctx.topology.regions],
        "stores": [_store(plan, s, whys[s], usage, (float(costs[s]), float(penalties[s])),
                          offline[s])
                   for s in range(p.shape[0])],
        "failover": None if failover is None else _failover(failover),
    }


def summary_table(doc: dict[str, Any], *, max_stores: int = 20) -> str:
    """Stores x services: E = at the store, region name initials otherwise."""
    stores = doc["stores"]
    services = [a["service"] for a in stores[0]["assignments"]] if stores else []
    width = max([len(s) for s in services] + [7])
    head = f"{'service':<{width}}  " + "  ".join(f"{s['name'][-9:]:>9}" for s in
                                                    stores[:max_stores])
    lines = [head, "-" * len(head)]
    for j, name in enumerate(services):
        cells = []
        for st in stores[:max_stores]:
            a = st["assignments"][j]
            cells.append(f"{'edge' if a['site_kind'] == 'edge' else a['site']:>9}")
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    if len(stores) > max_stores:
        lines.append(f"... {len(stores) - max_stores} more stores in plan.json")
    gap = "" if doc["gap"] is None else f", gap to LP bound {100 * doc['gap']:.2f}%"
    lines.append(f"solver {doc['solver']}: ${doc['cost_usd_per_hour']:.4f}/h for "
                 f"{len(stores)} stores{gap}")
    if doc["penalty_usd_per_hour"] > 0:
        lines.append(f"penalties (unserved requests, broken calls, churn; not money): "
                     f"${doc['penalty_usd_per_hour']:.4f}/h")
    if doc["failover"]:
        f = doc["failover"]
        lost = sum(len(v) for v in f["lost_after"].values())
        lines.append(f"failover: {len(f['affected_stores'])} stores re-planned, "
                     f"{len(f['moves'])} moves in {f['replan_seconds']:.3f} s; {lost} store "
                     f"services lost")
    return "\n".join(lines)

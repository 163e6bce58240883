"""Why a service runs where it runs, and why it does not run somewhere else.

Every assignment gets one binding reason: a Filter plugin when it left only one site; otherwise
the cheapest alternative is tried (moving this one service alone) and the result names what
stopped it: a capacity or bandwidth limit, the home-region rule, or the score plugin that made
the alternative dearer (CallTraffic when it is the WAN crossings of chatty calls).

After a re-plan, a service that stayed put only because moving costs churn keeps its original
reason (from the plan before the failure when given, else the decision without the Churn score)
and carries the churn note beside it (`Explanation.note`). A service left on an unreachable site
names, per reachable site, the constraint that keeps it from moving there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from placement.errors import PlacementError
from placement.framework import EDGE, IntArray, Problem, Reason
from placement.plan import Plan
from placement.plugins import unreachable_sites
from placement.requirements import App
from placement.topology import Topology, listing

_TRAFFIC_PLUGINS = {"CallLatency", "WanEgress", "BrokenCall"}


@dataclass(frozen=True)
class Explanation:
    reason: Reason
    message: str
    note: str | None = None  # re-plan: e.g. "kept on us-east: it still works there (least churn)"


@dataclass(frozen=True)
class _Alternative:
    site: int
    delta_usd: float
    parts: dict[str, float]
    blocked: tuple[Reason, str] | None


def _crossing_cost(p: Problem, s: int, row: IntArray, plugin: int) -> float:
    a, b = row[p.calls[:, 0]], row[p.calls[:, 1]]
    cross = (a == EDGE) != (b == EDGE)
    regions = np.maximum(a, b) - 1
    return float(sum(p.cross_parts[plugin, s, e, regions[e]] for e in np.nonzero(cross)[0]))


def _limits(p: Problem, s: int, row: IntArray, j: int) -> tuple[Reason, str] | None:
    local = row == EDGE
    store = p.ctx.topology.stores[s]
    name = p.ctx.app.names[j]
    for unit, need, cap, scale in (("vCPU", p.cpu_millicores[s], p.cpu_capacity[s], 1000.0),
                                   ("MiB", p.memory_mib[s], p.memory_capacity[s], 1.0),
                                   ("GPU", p.gpus, p.gpu_capacity[s], 1.0)):
        used = float((need * local).sum())
        if used > cap + 1e-6:
            free = (cap - used + need[j]) / scale
            return Reason.CAPACITY, (f"{store.name} has {max(free, 0):.2f} {unit} free; {name} "
                                     f"needs {need[j] / scale:.2f}")
    a, b = row[p.calls[:, 0]], row[p.calls[:, 1]]
    mbps = float((p.call_mbps[s] * ((a == EDGE) != (b == EDGE))).sum())
    if mbps > p.bandwidth_mbps[s] + 1e-6:
        return Reason.BANDWIDTH, (f"{store.name}'s WAN has {p.bandwidth_mbps[s]:g} Mbps usable; "
                                  f"with {name} there the calls would need {mbps:.1f}")
    return None


def _alternative(plan: Plan, s: int, j: int, a: int,
                 ignore: frozenset[str] = frozenset()) -> _Alternative:
    p, row = plan.problem, plan.site[s].copy()
    k = int(row[j])
    new = row.copy()
    new[j] = a
    parts = {n: float(p.unary_parts[i, s, j, a] - p.unary_parts[i, s, j, k])
             for i, n in enumerate(p.score_names) if n not in ignore}
    for i, n in enumerate(p.call_score_names):
        if n not in ignore:
            parts[n] = _crossing_cost(p, s, new, i) - _crossing_cost(p, s, row, i)
    blocked = _limits(p, s, new, j)
    others = {int(x) for x in np.delete(new, j) if x != EDGE}
    if blocked is None and a != EDGE and others and others != {a}:
        store, home = p.ctx.topology.stores[s].name, p.ctx.site_name(s, 1 + int(plan.home[s]))
        blocked = (Reason.HOME_REGION, f"{store}'s cloud services share home region {home}")
    return _Alternative(a, sum(parts.values()), parts, blocked)


def _filtered(p: Problem, s: int, j: int, k: int) -> Explanation:
    f = p.filters[int(p.blocked_by[s, j, k])]
    return Explanation(f.reason, f.explain(p.ctx, s, j, k))


def _failover(plan: Plan, s: int, j: int) -> Explanation | None:
    ctx = plan.problem.ctx
    if ctx.previous_site is None:
        return None
    dead = unreachable_sites(ctx)[s]
    prev, k = int(ctx.previous_site[s, j]), int(plan.site[s, j])
    if dead[k]:
        store = ctx.topology.stores[s].name
        down = (f"{store}'s edge cluster is down" if k == EDGE else
                f"{ctx.site_name(s, k)} is unreachable from {store}")
        return Explanation(Reason.UNREACHABLE, f"{down}; {ctx.app.names[j]} cannot move: "
                                               f"{_stuck(plan, s, j, dead)}")
    if prev != k and dead[prev]:
        return Explanation(Reason.FAILOVER, f"moved from {ctx.site_name(s, prev)} (unreachable) "
                                            f"to {ctx.site_name(s, k)}")
    return None


def _stuck(plan: Plan, s: int, j: int, dead: np.ndarray) -> str:
    """Why service j of store s cannot leave its unreachable site: per reachable site, the
    Filter, capacity, bandwidth or home-region rule that binds."""
    p, k = plan.problem, int(plan.site[s, j])
    why: list[str] = []
    for a in range(p.shape[2]):
        if a == k or dead[a]:
            continue
        if not p.allowed[s, j, a]:
            e = _filtered(p, s, j, a)
            why.append(f"{e.message} ({e.reason.value})")
            continue
        alt = _alternative(plan, s, j, a)
        if alt.blocked is not None:
            why.append(f"{p.ctx.site_name(s, a)}: {alt.blocked[1]} ({alt.blocked[0].value})")
        else:
            why.append(f"{p.ctx.site_name(s, a)} would cost ${alt.delta_usd:.4f}/h more "
                       f"with the calls it would break")
    return "; ".join(dict.fromkeys(why)) or "no other site is reachable"


def _by_score(plan: Plan, s: int, j: int, alt: _Alternative) -> Explanation:
    ctx, k = plan.problem.ctx, int(plan.site[s, j])
    decider = max(alt.parts, key=lambda n: alt.parts[n])
    there, here = ctx.site_name(s, alt.site), ctx.site_name(s, k)
    if decider == "Churn":
        return Explanation(Reason.KEPT, f"kept on {here}: it still works there (least churn)")
    reason = Reason.TRAFFIC if decider in _TRAFFIC_PLUGINS else Reason.COST
    return Explanation(reason, f"{here} is cheapest: {there} would cost ${alt.delta_usd:.4f}/h "
                               f"more ({decider} +${alt.parts[decider]:.4f}/h)")


def explain_assignment(plan: Plan, s: int, j: int, before: Plan | None = None) -> Explanation:
    """The binding reason service j of store s runs where the plan put it; after a re-plan,
    `before` (the plan before the failure) supplies the original reason of a kept service."""
    failed = _failover(plan, s, j)
    if failed is not None:
        return failed
    e = _decide(plan, s, j)
    if e.reason != Reason.KEPT:
        return e
    orig = (explain_assignment(before, s, j) if before is not None
            else _decide(plan, s, j, frozenset({"Churn"})))
    return Explanation(orig.reason, orig.message, note=e.message)


def _decide(plan: Plan, s: int, j: int, ignore: frozenset[str] = frozenset()) -> Explanation:
    p, k = plan.problem, int(plan.site[s, j])
    others = [a for a in range(p.shape[2]) if a != k]
    alts = [_alternative(plan, s, j, a, ignore) for a in others if p.allowed[s, j, a]]
    if not alts:
        return _filtered(p, s, j, others[0]) if others else Explanation(Reason.COST, "only site")
    cheaper = [a for a in alts if a.delta_usd < -1e-9]
    for alt in sorted(cheaper, key=lambda a: a.delta_usd):
        if alt.blocked is not None:
            reason, why = alt.blocked
            return Explanation(reason, f"{p.ctx.site_name(s, alt.site)} would save "
                                       f"${-alt.delta_usd:.4f}/h but {why}")
    if cheaper:
        return Explanation(Reason.LOCAL_OPTIMUM, f"moving to {p.ctx.site_name(s, cheaper[0].site)} "
                                                 f"alone would save ${-cheaper[0].delta_usd:.4f}/h")
    free = [a for a in alts if a.blocked is None] or alts
    return _by_score(plan, s, j, min(free, key=lambda a: a.delta_usd))


def explain_plan(plan: Plan, before: Plan | None = None) -> list[list[Explanation]]:
    n_s, n_j, _ = plan.problem.shape
    return [[explain_assignment(plan, s, j, before) for j in range(n_j)] for s in range(n_s)]


def _why_not_store(plan: Plan, s: int, j: int, k: int) -> str:
    p = plan.problem
    name, site = p.ctx.app.names[j], p.ctx.site_name(s, k)
    store = p.ctx.topology.stores[s].name
    site = site if k == EDGE else f"{site} for {store}"
    if int(plan.site[s, j]) == k:
        e = explain_assignment(plan, s, j)
        return f"{name} is on {site} ({e.reason.value}): {e.message}"
    if not p.allowed[s, j, k]:
        e = _filtered(p, s, j, k)
        return f"{name} is not on {site} ({e.reason.value}): {e.message}"
    alt = _alternative(plan, s, j, k)
    if alt.blocked is not None:
        return f"{name} is not on {site} ({alt.blocked[0].value}): {alt.blocked[1]}"
    decider = max(alt.parts, key=lambda n: alt.parts[n])
    reason = Reason.TRAFFIC if decider in _TRAFFIC_PLUGINS else Reason.COST
    if decider == "Churn":
        reason = Reason.KEPT
    return (f"{name} is not on {site} ({reason.value}): it would cost "
            f"${alt.delta_usd:.4f}/h more there ({decider} +${alt.parts[decider]:.4f}/h); it runs "
            f"on {plan.site_name(s, j)}")


def check_why(topology: Topology, app: App, service: str, site: str) -> None:
    """Reject a `--why SERVICE --site SITE` naming an unknown service or site, before any solve."""
    app.index(service)
    if site not in topology.store_names and site not in topology.region_names:
        raise PlacementError(f"--site {site!r} is neither a store nor a region of topology "
                             f"{topology.name!r} (regions: {', '.join(topology.region_names)}; "
                             f"stores: {listing(topology.store_names)})")


def why_not(plan: Plan, service: str, site: str, *, limit: int = 10) -> list[str]:
    """Answer `--why SERVICE --site SITE`: a store name, or a region (one line per store)."""
    ctx = plan.problem.ctx
    check_why(ctx.topology, ctx.app, service, site)
    j = ctx.app.index(service)
    stores, regions = ctx.topology.store_names, ctx.topology.region_names
    if site in stores:
        s = stores.index(site)
        return [_why_not_store(plan, s, j, EDGE)]
    k = 1 + regions.index(site)
    lines = [_why_not_store(plan, s, j, k) for s in range(len(stores))]
    on = sum(1 for s in range(len(stores)) if plan.site[s, j] == k)
    head = f"{service} runs on {site} for {on} of {len(stores)} stores"
    return [head, *lines[:limit]] + ([f"... and {len(lines) - limit} more stores"]
                                     if len(lines) > limit else [])

"""Failover: a store's WAN lost, a region down, a store's edge cluster down (`--fail-site`) or
part of its nodes lost (`--degrade STORE=50%`). What keeps working, the new plan, the diff.

A store whose edge cluster is down serves its shoppers from the cloud where the app allows; what
may only run in the store (PII-local, offline and their callees) is lost until it returns
(`lost_after`). A degraded store keeps `1 - fraction` of its CPU, memory and GPUs (GPUs round
down); its services are re-planned into what is left, and if the services that must run there
no longer fit, the re-plan fails naming the store and the constraint.

The re-plan solves only the stores a failure touches; every other store keeps its plan verbatim.
Inside a touched store the Churn score keeps services on sites that still work, Unreachable and
BrokenCall price what cannot be served. Moves are make-before-break: the old placement stays
until the new one is ready (`ready_after_seconds`), then traffic shifts and the old one retires.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from placement.errors import PlacementError
from placement.explain import explain_assignment
from placement.framework import EDGE, BoolArray, Context, Failures, Reason
from placement.heuristic import solve_heuristic
from placement.milp import solve_milp
from placement.plan import Plan, SolverKind
from placement.plugins import default_framework, unreachable_sites
from placement.topology import Topology

MILP_MAX_STORES = 300  # above this many touched stores the re-plan uses the heuristic


@dataclass(frozen=True)
class Move:
    store: str
    service: str
    from_site: str
    to_site: str
    reason: Reason
    message: str
    ready_after_seconds: float


@dataclass(frozen=True, eq=False)
class Failover:
    failures: Failures
    before: Plan
    after: Plan
    affected_stores: tuple[str, ...]
    working_before: dict[str, tuple[str, ...]]  # touched store -> services that still work
    working_after: dict[str, tuple[str, ...]]
    lost_after: dict[str, tuple[str, ...]]  # touched store -> services that do not work after
    moves: tuple[Move, ...]
    seconds: float


_DEGRADE = re.compile(r"^(?P<store>[^=]+)=(?P<pct>\d+(?:\.\d+)?)%$")


def parse_degrade(text: str) -> tuple[str, float]:
    """`STORE=50%` -> ("STORE", 0.5): the store lost 50% of its CPU, memory and GPUs."""
    m = _DEGRADE.match(text.strip())
    if not m:
        raise PlacementError(f"--degrade {text!r}: expected STORE=PERCENT%, e.g. store-002=50%")
    pct = float(m["pct"])
    if not 0 < pct < 100:
        raise PlacementError(f"--degrade {text!r}: the percentage lost must be > 0 and < 100 "
                             f"(use --fail-site {m['store']} for a whole cluster down)")
    return m["store"], pct / 100.0


def degraded_topology(topology: Topology, failures: Failures) -> Topology:
    """The fleet with each degraded store's capacities cut by its lost fraction."""
    if not failures.degraded:
        return topology
    stores = []
    for st in topology.stores:
        keep = 1.0 - failures.degraded_fraction(st.name)
        stores.append(st if keep == 1.0 else st.model_copy(update={
            "cpu_millicores": st.cpu_millicores * keep, "memory_mib": st.memory_mib * keep,
            "gpus": int(np.floor(st.gpus * keep + 1e-9))}))
    return topology.model_copy(update={"stores": tuple(stores)})


def working(ctx: Context, site: np.ndarray) -> BoolArray:
    """(S, J) service j works for store s: it and everything it calls are on reachable sites."""
    reach = ~np.take_along_axis(unreachable_sites(ctx), site, axis=1)
    works = reach.copy()
    callees = ctx.app.graph.callees()
    for j in reversed(ctx.app.graph.topological_order()):
        for k in callees[j]:
            works[:, j] &= works[:, k]
    return works


def _affected(ctx: Context, plan: Plan) -> np.ndarray:
    dead = unreachable_sites(ctx)
    on_dead = np.take_along_axis(dead, plan.site, axis=1).any(axis=1)
    f = ctx.failures
    hit = np.array([s.name in f.wan_lost or s.name in f.sites_down or f.degraded_fraction(s.name)
                    > 0 for s in ctx.topology.stores])
    return np.nonzero(on_dead | hit)[0]


def _names(ctx: Context, works: BoolArray, stores: np.ndarray) -> dict[str, tuple[str, ...]]:
    return {ctx.topology.stores[s].name: tuple(n for j, n in enumerate(ctx.app.names)
                                                 if works[s, j]) for s in stores}


def replan(plan: Plan, failures: Failures) -> Failover:
    """Re-plan around `failures`, keeping unaffected services (and stores) where they are."""
    start = time.perf_counter()
    old = plan.problem.ctx
    ctx = Context(degraded_topology(old.topology, failures), old.app, failures,
                  previous_site=plan.site)
    p = default_framework(failover=True).build(ctx)
    touched = _affected(ctx, plan)
    site, home = plan.site.copy(), plan.home.copy()
    exact = 0
    if len(touched):
        sub = p.for_stores(touched)
        fix = solve_milp(sub) if len(touched) <= MILP_MAX_STORES else solve_heuristic(
            sub, with_bound=False)
        site[touched], home[touched], exact = fix.site, fix.home, fix.exact_stores
    after = Plan(p, site, home, plan.solver if len(touched) else SolverKind.BASELINE,
                 optimal=plan.optimal, seconds=time.perf_counter() - start, exact_stores=exact)
    moves = tuple(
        Move(ctx.topology.stores[s].name, ctx.app.names[j], ctx.site_name(s, int(plan.site[s, j])),
             ctx.site_name(s, int(site[s, j])), *_why(after, s, j),
             ready_after_seconds=ctx.app.graph.services[j].startup_seconds)
        for s, j in zip(*np.nonzero(site != plan.site), strict=True)
    )
    works_after = working(ctx, site)
    return Failover(failures, plan, after, tuple(ctx.topology.stores[s].name for s in touched),
                    _names(ctx, working(ctx, plan.site), touched),
                    _names(ctx, works_after, touched), _names(ctx, ~works_after, touched), moves,
                    time.perf_counter() - start)


def _why(plan: Plan, s: int, j: int) -> tuple[Reason, str]:
    e = explain_assignment(plan, int(s), int(j))
    return e.reason, e.message


def local_only(plan: Plan) -> BoolArray:
    """(S, J) services that keep working for a store whatever happens to its WAN."""
    ctx = plan.problem.ctx
    everywhere = Failures(wan_lost=frozenset(ctx.topology.store_names))
    works = working(Context(ctx.topology, ctx.app, everywhere), plan.site)
    return np.asarray(works & (plan.site == EDGE), dtype=bool)

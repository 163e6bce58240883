"""Property tests: every plan either solver produces meets the requirements, checked against the
raw topology and annotations (not the solver's own arrays)."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement.errors import InfeasibleError
from placement.framework import EDGE, Context
from placement.heuristic import solve_heuristic
from placement.milp import solve_milp
from placement.plan import Plan
from placement.plugins import default_framework
from placement.requirements import App
from placement.synthetic import generate_app, generate_fleet


def _check(plan: Plan) -> None:
    ctx = plan.problem.ctx
    app, topo = ctx.app, ctx.topology
    g = app.graph.digraph()
    for s, store in enumerate(topo.stores):
        site = plan.site[s]
        cloud = {int(k) for k in site if k != EDGE}
        assert len(cloud) <= 1, "one home region per store"
        for j, req in enumerate(app.requirements):
            local = site[j] == EDGE
            if req.pii_local or req.offline:
                assert local, f"{store.name}: {req.name} must be local"
            if req.offline and local:
                for callee in nx.descendants(g, req.name):
                    assert site[app.index(callee)] == EDGE, "offline closure"
            if req.needs_gpu:
                if local:
                    assert store.gpus >= 1
                else:
                    assert topo.regions[int(site[j]) - 1].has_gpus
            if req.max_rtt_ms is not None and not local:
                region = topo.regions[int(site[j]) - 1].name
                assert store.wan.rtt_ms[region] <= req.max_rtt_ms
        local = site == EDGE
        gpus = sum(1 for j, r in enumerate(app.requirements) if r.needs_gpu and local[j])
        assert gpus <= store.gpus
        assert (plan.problem.cpu_millicores[s] * local).sum() <= store.cpu_millicores + 1e-6


def _solve(app: App, seed: int, n_stores: int) -> list[Plan]:
    topo = generate_fleet(n_stores, np.random.default_rng(seed), n_regions=1 + seed % 3)
    p = default_framework().build(Context(topo, app))
    try:
        return [solve_milp(p), solve_heuristic(p, with_bound=False)]
    except InfeasibleError:
        return []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_services=st.integers(2, 9), n_stores=st.integers(1, 12))
def test_random_apps_meet_requirements(seed: int, n_services: int, n_stores: int) -> None:
    app = generate_app(n_services, np.random.default_rng(seed + 7))
    for plan in _solve(app, seed, n_stores):
        _check(plan)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_stores=st.integers(1, 30))
def test_boutique_fleets_meet_requirements(boutique: App, seed: int, n_stores: int) -> None:
    for plan in _solve(boutique, seed, n_stores):
        _check(plan)

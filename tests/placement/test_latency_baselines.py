from __future__ import annotations

from placement.baselines import all_at_edge_where_fits, all_in_cloud
from placement.framework import EDGE, Problem
from placement.latency import plan_latency, store_latency
from placement.milp import solve_milp
from placement.plan import violations


def test_latency_per_call(small_problem: Problem) -> None:
    plan = solve_milp(small_problem)
    topo, app = small_problem.ctx.topology, small_problem.ctx.app
    for s, store in enumerate(topo.stores):
        lat = plan_latency(plan, store.name)
        for (a, b), rtt in lat.by_call().items():
            ka, kb = plan.site[s, app.index(a)], plan.site[s, app.index(b)]
            if ka == kb:
                assert rtt == 0
            else:
                region = topo.regions[max(ka, kb) - 1].name
                assert rtt == store.wan.rtt_ms[region]
        entry_site = plan.site[s, app.entry]
        want = store.shopper_rtt_ms + (0.0 if entry_site == EDGE else store.wan.rtt_ms[
            topo.regions[entry_site - 1].name])  # a cloud site: the in-store leg plus the WAN
        assert lat.shopper_rtt_ms == want
        assert lat.locations[app.names[0]] == plan.site_name(s, 0)


def test_latency_table(small_problem: Problem) -> None:
    topo, graph = small_problem.ctx.topology, small_problem.ctx.app.graph
    locations = dict.fromkeys(graph.names, "store-001") | {"search": "us-east"}
    lat = store_latency(topo, graph, "store-001", locations)
    rtt = topo.store("store-001").wan.rtt_ms["us-east"]
    assert lat.by_call()[("frontend", "search")] == rtt
    assert lat.by_call()[("search", "product-catalog")] == rtt
    assert lat.by_call()[("frontend", "cart")] == 0
    assert lat.shopper_rtt_ms == topo.store("store-001").shopper_rtt_ms


def test_baselines(small_problem: Problem) -> None:
    cloud = all_in_cloud(small_problem)
    edge = all_at_edge_where_fits(small_problem)
    best = solve_milp(small_problem)
    assert (cloud.site != EDGE).all()
    assert violations(small_problem, cloud.site, cloud.home)  # breaks PII/offline: a baseline
    assert not violations(small_problem, edge.site, edge.home)
    assert best.objective_usd_per_hour <= edge.objective_usd_per_hour + 1e-9
    assert cloud.objective_usd_per_hour > 0  # comparable, though it breaks requirements

from __future__ import annotations

import numpy as np
import pytest

from placement.errors import InfeasibleError, PlacementError
from placement.explain import explain_assignment
from placement.failover import MILP_MAX_STORES, parse_degrade, replan, working
from placement.framework import EDGE, Context, Failures, Problem, Reason
from placement.heuristic import solve_heuristic
from placement.milp import solve_milp
from placement.plan import Plan, violations
from placement.plugins import default_framework
from placement.report import plan_document, summary_table
from placement.requirements import App
from placement.synthetic import generate_fleet


@pytest.fixture(scope="module")
def plan(small_problem: Problem) -> Plan:
    return solve_milp(small_problem)


def test_wan_loss_replans_only_that_store(plan: Plan) -> None:
    f = replan(plan, Failures(wan_lost=frozenset({"store-001"})))
    assert f.affected_stores == ("store-001",)
    assert np.array_equal(f.after.site[1:], plan.site[1:])
    assert all(m.store == "store-001" for m in f.moves)
    assert all(m.to_site == "store-001" for m in f.moves)  # cloud services come home if they fit
    # offline services worked before the re-plan and still do
    for name in ("live-inventory", "bopis-promise"):
        assert name in f.working_before["store-001"] and name in f.working_after["store-001"]
    assert set(f.working_before["store-001"]) <= set(f.working_after["store-001"])
    assert all(m.reason in (Reason.FAILOVER, Reason.UNREACHABLE) for m in f.moves)
    assert f.seconds < 1.0


def test_region_down_moves_its_services(plan: Plan) -> None:
    f = replan(plan, Failures(regions_down=frozenset({"us-east"})))
    ctx = plan.problem.ctx
    moved = {(m.store, m.service) for m in f.moves}
    for s, store in enumerate(ctx.topology.stores):
        for j, name in enumerate(ctx.app.names):
            if plan.site[s, j] == 1:  # was in us-east
                assert f.after.site[s, j] != 1 and (store.name, name) in moved
            elif plan.site[s, j] == EDGE:
                assert f.after.site[s, j] == EDGE  # least churn: local services stay
    assert all(len(m.from_site) and m.ready_after_seconds > 0 for m in f.moves)


def test_working_follows_callees(plan: Plan) -> None:
    ctx = Context(plan.problem.ctx.topology, plan.problem.ctx.app,
                  Failures(wan_lost=frozenset(plan.problem.ctx.topology.store_names)))
    works = working(ctx, plan.site)
    assert not (works & (plan.site != EDGE)).any()


def test_no_failure_is_identity(plan: Plan) -> None:
    f = replan(plan, Failures())
    assert f.moves == () and np.array_equal(f.after.site, plan.site)


def _index(plan: Plan, store: str) -> int:
    return plan.problem.ctx.topology.store_names.index(store)


def test_fail_site_serves_from_cloud_and_reports_store_only_services_lost(plan: Plan) -> None:
    f = replan(plan, Failures(sites_down=frozenset({"store-002"})))
    assert f.affected_stores == ("store-002",)
    s = _index(plan, "store-002")
    p = f.after.problem
    others = [i for i in range(p.shape[0]) if i != s]
    assert np.array_equal(f.after.site[others], plan.site[others])
    for j, name in enumerate(p.ctx.app.names):
        if p.allowed[s, j, 1:].any():  # the app allows the cloud: it goes there
            assert f.after.site[s, j] != EDGE, name
        else:
            assert name in f.lost_after["store-002"], name
    assert {"payment", "live-inventory", "bopis-promise"} <= set(f.lost_after["store-002"])
    why = explain_assignment(f.after, s, p.ctx.app.index("payment"), plan)
    assert why.reason == Reason.UNREACHABLE
    assert "store-002's edge cluster is down" in why.message and "(PiiLocal)" in why.message


def test_degrade_replans_into_what_is_left(plan: Plan) -> None:
    s = _index(plan, "store-005")
    before = float((plan.problem.cpu_millicores[s] * (plan.site[s] == EDGE)).sum())
    f = replan(plan, Failures(degraded=(("store-005", 0.9),)))
    p = f.after.problem
    assert p.cpu_capacity[s] == pytest.approx(1600.0)
    assert p.memory_capacity[s] == pytest.approx(plan.problem.memory_capacity[s] / 10)
    assert before > 1600.0  # the old plan no longer fits
    assert not violations(p, f.after.site, f.after.home)
    assert f.moves and all(m.store == "store-005" and m.from_site == "store-005" for m in f.moves)


def test_degrade_too_far_names_the_store(plan: Plan) -> None:
    with pytest.raises(InfeasibleError, match="store-002"):
        replan(plan, Failures(degraded=(("store-002", 0.95),)))


@pytest.mark.parametrize(("text", "expect"), [
    ("store-002=50%", ("store-002", 0.5)),
    (" store-1=12.5% ", ("store-1", 0.125)),
])
def test_parse_degrade(text: str, expect: tuple[str, float]) -> None:
    assert parse_degrade(text) == expect


@pytest.mark.parametrize(("text", "expect"), [
    ("store-002=50", "expected STORE=PERCENT%"),
    ("store-002", "expected STORE=PERCENT%"),
    ("store-002=0%", "must be > 0 and < 100"),
    ("store-002=100%", "use --fail-site store-002"),
])
def test_parse_degrade_rejects(text: str, expect: str) -> None:
    with pytest.raises(PlacementError, match=expect):
        parse_degrade(text)


def test_kept_services_keep_their_original_reason(plan: Plan) -> None:
    f = replan(plan, Failures(regions_down=frozenset({"us-east"})))
    notes = 0
    for s in range(plan.problem.shape[0]):
        for j in np.nonzero(f.after.site[s] == plan.site[s])[0]:
            after = explain_assignment(f.after, s, int(j), plan)
            orig = explain_assignment(plan, s, int(j))
            assert after.reason != Reason.KEPT
            if after.note is not None:
                notes += 1
                assert "least churn" in after.note
                assert (after.reason, after.message) == (orig.reason, orig.message)
    assert notes > 0


def test_unreachable_names_the_binding_constraint(plan: Plan) -> None:
    f = replan(plan, Failures(regions_down=frozenset({"us-east", "us-west"})))
    s = _index(plan, "store-001")  # no GPU at the store
    j = plan.problem.ctx.app.index("vision-inference")
    why = explain_assignment(f.after, s, j, plan)
    assert why.reason == Reason.UNREACHABLE
    assert "needs a GPU; store-001 has none (GpuAvailable)" in why.message
    assert "no reachable site has room" not in why.message


def test_penalties_are_reported_apart_from_cost(plan: Plan) -> None:
    f = replan(plan, Failures(regions_down=frozenset({"us-east", "us-west"})))
    doc = plan_document(f.after, f)
    breakdown = doc["cost_breakdown_usd_per_hour"]
    assert doc["penalty_usd_per_hour"] == pytest.approx(
        breakdown["Unreachable"] + breakdown["BrokenCall"] + breakdown["Churn"], abs=1e-5)
    assert doc["penalty_usd_per_hour"] > 10 * doc["cost_usd_per_hour"]  # unserved dominates
    assert doc["cost_usd_per_hour"] + doc["penalty_usd_per_hour"] == pytest.approx(
        doc["objective_usd_per_hour"], abs=1e-5)
    assert sum(st["cost_usd_per_hour"] for st in doc["stores"]) == pytest.approx(
        doc["cost_usd_per_hour"], abs=1e-4)
    assert "penalties" in summary_table(doc)


@pytest.mark.parametrize("down", [("us-east",), ("us-east", "us-west")])
def test_region_loss_replan_of_1000_stores_with_the_heuristic(boutique: App,
                                                              down: tuple[str, ...]) -> None:
    # with both regions down the code before issue 19 exited 2 here ("store-030: the heuristic
    # found no plan within capacity and WAN bandwidth"): unserved-request penalties crossed its
    # $1000/h feasibility cut-off
    topo = generate_fleet(1000, np.random.default_rng(0))
    p = default_framework().build(Context(topo, boutique))
    plan = solve_heuristic(p, with_bound=False)
    f = replan(plan, Failures(regions_down=frozenset(down)))
    assert len(f.affected_stores) > MILP_MAX_STORES  # the heuristic re-plans them
    assert not violations(f.after.problem, f.after.site, f.after.home)
    dead = [1 + topo.region_names.index(r) for r in down]
    stuck = np.isin(f.after.site, dead)
    assert np.isin(plan.site[stuck], dead).all()  # nothing moves onto a lost site
    assert len(f.moves) > 0

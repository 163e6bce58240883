from __future__ import annotations

import numpy as np
import pytest

from placement.failover import replan, working
from placement.framework import EDGE, Context, Failures, Problem, Reason
from placement.milp import solve_milp
from placement.plan import Plan


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

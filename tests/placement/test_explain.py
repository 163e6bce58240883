from __future__ import annotations

import pytest

from placement.explain import explain_plan, why_not
from placement.framework import Problem, Reason
from placement.milp import solve_milp
from placement.plan import Plan


@pytest.fixture(scope="module")
def plan(small_problem: Problem) -> Plan:
    return solve_milp(small_problem)


@pytest.mark.parametrize(("service", "reason"), [
    ("payment", Reason.PII_LOCAL),
    ("live-inventory", Reason.OFFLINE),
    ("bopis-promise", Reason.OFFLINE),
])
def test_filter_reasons(plan: Plan, service: str, reason: Reason) -> None:
    j = plan.problem.ctx.app.index(service)
    for row in explain_plan(plan):
        assert row[j].reason == reason


def test_every_assignment_has_a_reason(plan: Plan) -> None:
    for row in explain_plan(plan):
        for e in row:
            assert e.message and e.reason != Reason.LOCAL_OPTIMUM  # the MILP is 1-opt


def test_why_not_store_and_region(plan: Plan) -> None:
    (line,) = why_not(plan, "vision-inference", "store-001")
    assert line == ("vision-inference is not on store-001 (GpuAvailable): vision-inference "
                    "needs a GPU; store-001 has none")
    lines = why_not(plan, "payment", "us-east")
    assert lines[0] == "payment runs on us-east for 0 of 5 stores"
    assert all("(PiiLocal)" in x for x in lines[1:])

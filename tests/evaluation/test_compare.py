"""The policy comparison on Black Friday: the acceptance figures, and that they are computed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from envs.scenario import Scenario, load_scenario
from evaluation.compare import results, run_bench

ALL = ["hpa", "keda", "holt-winters", "seasonal-naive", "static-peak", "oracle"]


def black_friday(multiplier: float = 8.0) -> Scenario:
    """The shipped scenario, cut to Thursday and Friday so the test stays quick."""
    sc = load_scenario("black-friday")
    events = tuple(replace(e, multiplier=multiplier) for e in sc.events)
    return replace(sc, start=datetime(2026, 11, 26), duration_seconds=2 * 86_400, events=events)


@pytest.mark.slow
def test_black_friday_acceptance_figures() -> None:
    """The shipped week, whole: on a cut of it Holt-Winters' trend after the spike can out-spend
    static peak, so the acceptance figures are checked on exactly what users run."""
    res = results(run_bench(load_scenario("black-friday"), ALL, seed=0, jobs=2))
    p = res["policies"]
    assert isinstance(p, dict)
    assert p["oracle"]["slo_violation_minutes"] == 0
    assert p["hpa"]["event_slo_violation_minutes"] > 0
    assert p["static-peak"]["slo_violation_minutes"] == 0
    assert p["static-peak"]["replica_hours"] == max(s["replica_hours"] for s in p.values())
    assert p["oracle"]["replica_hours"] < p["hpa"]["replica_hours"]
    assert set(res) >= {"scenario", "seed", "tick_seconds", "duration_seconds", "slo", "policies"}
    assert set(p["hpa"]) >= {
        "slo_violation_minutes",
        "event_slo_violation_minutes",
        "slo_attainment",
        "p95_latency_ms",
        "dropped_requests",
        "replica_hours",
        "cost",
        "scale_actions",
    }


@pytest.mark.slow
def test_figures_move_with_seed_and_event_multiplier() -> None:
    def figures(sc: Scenario, seed: int) -> dict[str, dict[str, float]]:
        out = results(run_bench(sc, ["hpa", "static-peak", "oracle"], seed=seed, jobs=2))[
            "policies"
        ]
        assert isinstance(out, dict)
        return out

    base = figures(black_friday(8.0), 0)
    other_seed = figures(black_friday(8.0), 1)
    bigger = figures(black_friday(10.0), 0)
    for name in ("hpa", "oracle", "static-peak"):
        assert other_seed[name]["replica_hours"] != base[name]["replica_hours"]
        assert bigger[name]["replica_hours"] > base[name]["replica_hours"]
    assert (
        bigger["hpa"]["event_slo_violation_minutes"] != base["hpa"]["event_slo_violation_minutes"]
    )
    assert bigger["oracle"]["slo_violation_minutes"] == 0

"""Guardrails: table tests of the pure rule, and the wrapper around a policy in the twin."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest

from envs.scenario import load_scenario
from evaluation.episode import run_episode
from scaler.guardrails import ClipReason, GuardedPolicy, Guardrails, apply_guardrails
from scaler.hpa.policy import HpaPolicy

G = Guardrails(max_step_up=1.0, max_step_up_pods=4, max_step_down=0.5, cooldown_seconds=300)
BOUNDS = (np.array([1]), np.array([50]))

CASES = [
    # id, proposed, current, floor, cooldown, guardrails, expected, reason
    ("as-proposed", 6, 5, None, False, G, 6, ClipReason.NONE),
    ("step-up-pods", 30, 2, None, False, G, 6, ClipReason.STEP_UP),  # max(2*2, 2+4)
    ("step-up-percent", 40, 10, None, False, G, 20, ClipReason.STEP_UP),  # max(20, 14)
    ("step-down", 1, 10, None, False, G, 5, ClipReason.STEP_DOWN),
    ("cooldown-holds", 8, 10, None, True, G, 10, ClipReason.COOLDOWN),
    ("cooldown-allows-up", 12, 10, None, True, G, 12, ClipReason.NONE),
    ("floor-raises", 3, 4, 7, False, G, 7, ClipReason.REACTIVE_FLOOR),
    ("floor-below", 9, 8, 5, False, G, 9, ClipReason.NONE),
    ("max", 60, 45, None, False, G, 50, ClipReason.MAX_REPLICAS),
    ("min", 0, 1, None, False, G, 1, ClipReason.MIN_REPLICAS),
    (
        "no-step-limits",
        100,
        2,
        None,
        False,
        Guardrails(max_step_up=100, max_step_up_pods=100),
        50,
        ClipReason.MAX_REPLICAS,
    ),
]


@pytest.mark.parametrize(
    ("proposed", "current", "floor", "cooldown", "g", "want", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_apply_guardrails(
    proposed: int,
    current: int,
    floor: int | None,
    cooldown: bool,
    g: Guardrails,
    want: int,
    reason: ClipReason,
) -> None:
    d = apply_guardrails(
        g,
        np.array([proposed]),
        np.array([current]),
        None if floor is None else np.array([floor]),
        np.array([cooldown]),
        BOUNDS,
    )
    assert int(d.desired[0]) == want
    assert d.reasons[0] is reason
    assert int(d.proposed[0]) == proposed


def test_bad_guardrails_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_step_down"):
        Guardrails(max_step_down=1.5)


class Shrink:
    """A deliberately bad policy: always asks for one replica."""

    name = "shrink"

    def reset(self, ctx: object) -> None:
        return None

    def decide(self, obs: object) -> np.ndarray:
        return np.ones(12, dtype=int)


def test_reactive_floor_keeps_a_bad_policy_at_least_as_good_as_the_hpa() -> None:
    sc = replace(load_scenario("flash-sale"), start=datetime(2026, 10, 6), duration_seconds=86_400)
    history, run = sc.demand(3)
    bare = run_episode(sc, Shrink(), history, run, seed=3)
    guarded = GuardedPolicy(Shrink(), Guardrails(), floor=HpaPolicy())
    safe = run_episode(sc, guarded, history, run, seed=3)
    hpa = run_episode(sc, HpaPolicy(), history, run, seed=3)
    assert bare.summary.slo_violation_minutes > hpa.summary.slo_violation_minutes
    assert safe.summary.slo_violation_minutes <= hpa.summary.slo_violation_minutes
    assert guarded.last is not None
    assert ClipReason.REACTIVE_FLOOR in guarded.last.reasons


class Explode:
    """A model gone wrong on intermittent demand: it asks for 700 replicas everywhere."""

    name = "explode"

    def reset(self, ctx: object) -> None:
        return None

    def decide(self, obs: object) -> np.ndarray:
        return np.full(12, 700, dtype=int)


def test_demand_cap_stops_growth_with_no_traffic_but_allows_an_announced_prescale() -> None:
    """The opening-hours blow-up (19 -> 701 replicas with zero traffic): the cap holds growth to
    what 4x the expected demand needs; an announced 8x event raises the cap with it."""
    from envs.graph import load_graph
    from envs.observation import Observation, Slo
    from envs.workload import Event
    from scaler.policy import PolicyContext

    graph = load_graph("boutique")
    start = datetime(2026, 11, 27, 8, 0)
    history = np.full(7 * 1440, 100.0)  # an ordinary daily peak of 100 rps
    sale = Event("opening", start + timedelta(minutes=30), 8.0, 900, 3600, 3600, True)
    guarded = GuardedPolicy(Explode(), Guardrails(max_step_up=100, max_step_up_pods=1000))
    cur = np.full(12, 19)

    def obs(now: datetime) -> Observation:
        zeros = np.zeros(12)
        return Observation(tick=0, now=now, rate_rps=zeros, cpu_utilization=zeros, ready=cur,
                           pending=zeros.astype(int), desired=cur, entry_rate_rps=0.0,
                           latency_source=lambda: None)  # type: ignore[arg-type,return-value]

    quiet = PolicyContext(graph, 60, Slo(400, 0.001), start, history, (),
                          np.random.default_rng(0))
    guarded.reset(quiet)
    out = guarded.decide(obs(start))
    per_replica = graph.array("capacity_rps") / graph.visit_ratios()
    want = np.maximum(np.ceil(4 * 100.0 / per_replica), 19)
    np.testing.assert_array_equal(out, np.minimum(want, graph.array("max_replicas")))
    assert out.max() < 701 and guarded.last is not None
    assert ClipReason.DEMAND_CAP in guarded.last.reasons
    guarded.reset(replace(quiet, calendar=(sale,)))
    prescale = guarded.decide(obs(start))
    want = np.maximum(np.ceil(4 * 800.0 / per_replica), 19)
    np.testing.assert_array_equal(prescale, np.minimum(want, graph.array("max_replicas")))
    assert prescale[graph.index("frontend")] == 54  # 4 x 800 rps / 60 rps per replica

"""The SLO floor (the guardrails' default): a model asking nothing is held at what the SLO needs
at the observed rate, a model asking more keeps its ask, and the floor meets the SLO in the twin
at steady load. The controller and the twin size it with the same function."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from envs.capacity import required_replicas, slo_floor
from envs.observation import Observation
from envs.scenario import load_scenario
from envs.twin import Twin
from evaluation.episode import run_episode
from scaler.guardrails import ClipReason, GuardedPolicy, Guardrails
from scaler.hpa.policy import HpaPolicy
from scaler.policy import PolicyContext
from scaler.slo_floor import FloorKind, SloFloor, floor_policy

START = datetime(2026, 10, 6)


class Ask:
    """A model that always asks for `ask` (0 everywhere by default)."""

    name = "ask"

    def __init__(self, ask: np.ndarray | None = None) -> None:
        self.ask = ask

    def reset(self, ctx: PolicyContext) -> None:
        return None

    def decide(self, obs: Observation) -> np.ndarray:
        return np.zeros(len(obs.desired), dtype=int) if self.ask is None else self.ask.copy()


def _steady(rps: float, policy: GuardedPolicy, ticks: int = 90) -> tuple[Twin, list[np.ndarray]]:
    """The twin at a constant entry rate from the SLO floor, the policy deciding every tick."""
    sc = load_scenario("flash-sale")
    config = sc.config()
    entry = np.full(ticks, rps)
    policy.reset(PolicyContext(sc.graph, sc.tick_seconds, sc.slo, START, np.full(60, rps), (),
                               np.random.default_rng(0)))
    twin = Twin(config, entry, START)
    twin.reset(slo_floor(config, rps * config.visit_ratios))
    asked = []
    while not twin.done:
        desired = policy.decide(twin.observe())
        asked.append(desired)
        twin.step(desired)
    return twin, asked


@pytest.mark.parametrize("rps", [150.0, 900.0, 2400.0])
def test_model_asking_zero_is_held_at_the_slo_floor_and_meets_the_slo(rps: float) -> None:
    guarded = GuardedPolicy(Ask(), Guardrails(), floor=SloFloor())
    twin, asked = _steady(rps, guarded)
    config = twin.config
    want = slo_floor(config, rps * config.visit_ratios)
    assert np.array_equal(want, required_replicas(config, np.array([rps]))[0])  # one sizing
    assert all(np.array_equal(a, want) for a in asked)
    assert guarded.last is not None and ClipReason.REACTIVE_FLOOR in guarded.last.reasons
    m = twin.tick_metrics(len(asked) - 1)
    assert not m.violation.any()
    assert m.e2e_p95_ms[0] <= config.slo.p95_latency_ms
    summary = [twin.tick_metrics(t) for t in range(len(asked))]
    assert not any(s.violation.any() for s in summary)


def test_model_asking_more_is_never_cut_below_its_ask() -> None:
    config = load_scenario("flash-sale").config()
    floor = slo_floor(config, 900.0 * config.visit_ratios)
    demand_cap = np.ceil(4.0 * 900.0 * config.visit_ratios / config.capacity_rps).astype(int)
    ask = np.maximum(floor, np.minimum(floor + np.arange(12) % 4, demand_cap))  # 0-3 over it
    assert (ask > floor).sum() >= 6
    guarded = GuardedPolicy(Ask(ask), Guardrails(), floor=SloFloor())
    _, asked = _steady(900.0, guarded, ticks=30)
    assert all(np.array_equal(a, ask) for a in asked)
    assert guarded.last is not None and set(guarded.last.reasons) == {ClipReason.NONE}


def test_slo_floor_is_below_the_hpa_floor_and_hpa_stays_selectable() -> None:
    sc = replace(load_scenario("black-friday"), start=datetime(2026, 11, 27),
                 duration_seconds=86_400)  # the sale's day: 8x at midnight
    history, run = sc.demand(3)
    slo = run_episode(sc, GuardedPolicy(Ask(), Guardrails(), floor=SloFloor()), history, run,
                      seed=3)
    hpa = run_episode(sc, GuardedPolicy(Ask(), Guardrails(),
                                        floor=floor_policy(FloorKind.HPA, HpaPolicy())),
                      history, run, seed=3)
    assert isinstance(floor_policy(FloorKind.SLO, HpaPolicy()), SloFloor)
    assert slo.summary.replica_hours < 0.8 * hpa.summary.replica_hours
    print(f"slo floor {slo.summary.replica_hours:.1f} replica-h "
          f"{slo.summary.slo_violation_minutes:.0f} violation min; hpa floor "
          f"{hpa.summary.replica_hours:.1f} / {hpa.summary.slo_violation_minutes:.0f}")

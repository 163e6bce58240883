"""Run one policy through one scenario in the twin: the loop every comparison uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.capacity import required_replicas
from envs.outcome import Summary, TickMetrics, event_mask, summarize
from envs.scenario import Scenario
from envs.twin import Twin
from envs.twin_config import Trajectory, TwinConfig
from scaler.policy import Policy, PolicyContext


@dataclass(frozen=True)
class Episode:
    policy: str
    summary: Summary
    trajectory: Trajectory
    metrics: TickMetrics


def run_episode(
    scenario: Scenario,
    policy: Policy,
    history_rps: np.ndarray,
    run_rps: np.ndarray,
    *,
    seed: int,
    on_tick: Callable[[], None] | None = None,
    config: TwinConfig | None = None,
    unreachable: np.ndarray | None = None,
) -> Episode:
    """The twin starts in the steady state of the policy's first answer (all replicas ready),
    then the policy decides every tick from what it observes. `config` and `unreachable`
    override the scenario's twin config and add an outage mask (see placement/simulate.py)."""
    config = config or scenario.config()
    ctx = PolicyContext(
        graph=scenario.graph,
        tick_seconds=scenario.tick_seconds,
        slo=scenario.slo,
        start=scenario.start,
        history_rps=history_rps,
        calendar=scenario.calendar,
        rng=np.random.default_rng(seed),
    )
    policy.reset(ctx)
    before = float(history_rps[-1]) if len(history_rps) else None
    twin = Twin(config, run_rps, scenario.start, before_rps=before, unreachable=unreachable)
    twin.reset(required_replicas(config, np.array([twin.observe().entry_rate_rps]))[0])
    first = policy.decide(twin.observe())
    twin.reset(first)
    twin.step(first)
    while not twin.done:
        twin.step(policy.decide(twin.observe()))
        if on_tick is not None:
            on_tick()
    traj = twin.trajectory()
    in_event = event_mask(scenario.events, scenario.start, scenario.ticks, scenario.tick_seconds)
    summary, metrics = summarize(config, run_rps, traj, in_event)
    return Episode(policy.name, summary, traj, metrics)

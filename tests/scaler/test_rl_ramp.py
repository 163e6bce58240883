"""The runtime maps the network's action as the env does: no trim below the base sizing while
demand is off the forecast (`envs.action.action_to_desired`), and trims elsewhere. The network
here is the default's with its head set to trim everything by half, so the rule is exercised on
every tick (the shipped network itself learned no trim there: its imitation target has none)."""

from __future__ import annotations

import numpy as np

from envs.action import off_forecast
from envs.twin import Twin
from scaler.learned.base_sizing import BaseSizingPolicy
from scaler.learned.graph_actor import GraphActor
from scaler.learned.runtime import RLPolicy
from scaler.policy import PolicyContext
from tests.support.surge import surge_scenario


def _halving_default() -> RLPolicy:
    policy = RLPolicy.load("default")
    a = policy.actor
    assert isinstance(a, GraphActor)
    policy.actor = GraphActor(a.inp, a.rounds, (np.zeros_like(a.head[0]),
                                                np.full_like(a.head[1], -1.0)))
    return policy


def test_the_runtime_never_trims_below_the_base_while_demand_is_off_the_forecast() -> None:
    sc = surge_scenario()
    history, run = sc.demand(0)
    ctx = PolicyContext(sc.graph, sc.tick_seconds, sc.slo, sc.start, history, sc.calendar,
                        np.random.default_rng(0))
    policy, base = _halving_default(), BaseSizingPolicy()
    policy.reset(ctx)
    base.reset(ctx)
    twin = Twin(sc.config(), run, sc.start, before_rps=float(history[-1]))
    off = on = 0
    while not twin.done:
        obs = twin.observe()
        desired, sizing = policy.decide(obs), base.decide(obs)
        assert policy._encoder is not None
        if off_forecast(policy._encoder.forecast.surprise_growth):
            off += 1
            np.testing.assert_array_equal(desired, sizing)
        else:
            on += 1
            np.testing.assert_array_equal(desired, np.rint(sizing / 2))
        twin.step(desired)
    assert off >= 30 and on >= 100

"""The runtime maps the network's action as the env does: no trim below the base sizing while
demand is off the forecast (`envs.action.action_to_desired`), and trims elsewhere."""

from __future__ import annotations

import numpy as np

from envs.action import off_forecast
from envs.twin import Twin
from scaler.learned.base_sizing import BaseSizingPolicy
from scaler.learned.runtime import RLPolicy
from scaler.policy import PolicyContext
from tests.support.surge import surge_scenario


def test_the_default_policy_never_trims_below_the_base_around_a_surprise_surge() -> None:
    sc = surge_scenario()
    history, run = sc.demand(0)
    ctx = PolicyContext(sc.graph, sc.tick_seconds, sc.slo, sc.start, history, sc.calendar,
                        np.random.default_rng(0))
    policy, base = RLPolicy.load("default"), BaseSizingPolicy()
    policy.reset(ctx)
    base.reset(ctx)
    twin = Twin(sc.config(), run, sc.start, before_rps=float(history[-1]))
    ramp, trimmed_elsewhere = 0, False
    while not twin.done:
        obs = twin.observe()
        desired, sizing = policy.decide(obs), base.decide(obs)
        assert policy._encoder is not None
        if off_forecast(policy._encoder.forecast.surprise_growth):
            ramp += 1
            assert (desired >= sizing).all()
        trimmed_elsewhere |= bool((desired < sizing).any())
        twin.step(desired)
    assert ramp >= 5 and trimmed_elsewhere

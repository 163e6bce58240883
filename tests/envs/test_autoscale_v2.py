"""edgewise/Autoscale-v4: gymnasium conventions, seeded determinism, the shared encoder."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.action import action_to_desired, off_forecast
from envs.autoscale_v2 import AutoscaleV2Env
from envs.features import observation_schema
from envs.randomize import RandomizationSpec, random_scenario
from envs.scenario import load_scenario
from tests.support.surge import TICKS, surge_scenario


def _env() -> AutoscaleV2Env:
    env = gym.make("envs.registration:edgewise/Autoscale-v4", episode_ticks=60,
                   randomize=RandomizationSpec(), random_probability=0.5).unwrapped
    assert isinstance(env, AutoscaleV2Env)
    return env


def test_check_env_passes() -> None:
    check_env(_env(), skip_render_check=True)


def test_schema_matches_observation() -> None:
    env = _env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (len(env.observation_schema),)
    assert env.observation_schema == observation_schema(env.graph)
    assert all(d["unit"] for d in env.observation_schema)


def _rollout(seed: int) -> tuple[np.ndarray, list[float]]:
    env = _env()
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    rewards, seen = [], [obs]
    for _ in range(30):
        obs, r, _, _, _ = env.step(env.action_space.sample())
        seen.append(obs)
        rewards.append(r)
    return np.stack(seen), rewards


def test_same_seed_same_episode() -> None:
    a, ra = _rollout(3)
    b, rb = _rollout(3)
    np.testing.assert_array_equal(a, b)
    assert ra == rb


def test_action_is_log2_multiplier_on_base() -> None:
    base = np.array([4, 10, 1])
    np.testing.assert_array_equal(action_to_desired(base, np.array([0.0, 1.0, -1.0])),
                                  [4, 20, 0])
    np.testing.assert_array_equal(action_to_desired(base, np.array([5.0, -5.0, 0.0])),
                                  [8, 5, 1])


def test_random_scenario_is_seeded_and_varies_graph() -> None:
    base = load_scenario("black-friday")
    spec = RandomizationSpec(max_events=2, event_probability=1.0)
    a = random_scenario(base, spec, np.random.default_rng(1))
    b = random_scenario(base, spec, np.random.default_rng(1))
    assert a == b or (a.events == b.events and a.graph == b.graph)
    assert a.graph.names == base.graph.names
    assert a.graph.services[0].capacity_rps != base.graph.services[0].capacity_rps
    assert 1 <= len(a.events) <= 2
    assert all(not e.announced for e in random_scenario(base, spec, np.random.default_rng(2),
                                                         announced=False).events)


@pytest.mark.parametrize(("growth", "want"), [
    (0.0, [2, 20, 6]), (0.1, [2, 20, 6]), (-0.1, [2, 20, 6]),  # on the forecast: trims
    (0.11, [4, 20, 8]), (-0.11, [4, 20, 8]), (-2.0, [4, 20, 8]),  # off it, either way: adds only
])
def test_no_trim_below_the_base_while_demand_is_off_the_forecast(growth: float,
                                                                  want: list[int]) -> None:
    got = action_to_desired(np.array([4, 10, 8]), np.array([-1.0, 1.0, -0.5]), growth)
    np.testing.assert_array_equal(got, want)


def test_the_env_does_not_trim_around_a_surprise_surge() -> None:
    env = AutoscaleV2Env(surge_scenario(), episode_ticks=TICKS)
    env.reset(seed=0)
    off = on = 0
    for t in range(TICKS):
        growth, base = env._encoder.forecast.surprise_growth, env._base.copy()
        env.step(np.full(len(base), -1.0))
        assert env._twin is not None
        desired, config = env._twin.trajectory().desired[t], env._twin.config
        if off_forecast(growth):
            off += 1
            np.testing.assert_array_equal(desired, config.clip(np.rint(base)))
        else:
            on += 1
            np.testing.assert_array_equal(desired, config.clip(np.rint(base / 2)))
    assert off >= 30 and on >= 100  # 169 and 131 on this surge (night-time noise counts too)

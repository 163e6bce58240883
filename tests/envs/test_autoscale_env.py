"""The gymnasium env: the checker passes, and the same seed gives the same trajectory."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers edgewise/Autoscale-v0)
from envs.autoscale import AutoscaleEnv


def rollout(seed: int, steps: int = 200) -> tuple[np.ndarray, list[float]]:
    env = gym.make("envs.registration:edgewise/Autoscale-v0", scenario="flash-sale",
                   episode_ticks=steps)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    frames, rewards = [obs], []
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        frames.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.array(frames), rewards


def test_check_env_passes() -> None:
    check_env(AutoscaleEnv("flash-sale", episode_ticks=60), skip_render_check=True)


def test_same_seed_same_trajectory_other_seed_differs() -> None:
    a, ra = rollout(3)
    b, rb = rollout(3)
    c, _ = rollout(4)
    np.testing.assert_array_equal(a, b)
    assert ra == rb
    assert not np.array_equal(a, c)


def test_episode_truncates_and_observation_names_match_layout() -> None:
    env = AutoscaleEnv("flash-sale", episode_ticks=5)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (len(env.observation_names),)
    truncated = False
    for _ in range(5):
        _, reward, terminated, truncated, info = env.step(np.zeros(12, dtype=np.float32))
        assert not terminated and reward <= 0
    assert truncated
    assert {"violated", "cost", "e2e_p95_ms", "replicas"} <= set(info)


def test_scaling_up_costs_more_reward_when_idle() -> None:
    env = AutoscaleEnv("normal-week", episode_ticks=10)
    env.reset(seed=1, options={"offset": 3 * 60})  # 03:00, quiet
    _, calm, *_ = env.step(np.zeros(12, dtype=np.float32))
    _, big, *_ = env.step(np.ones(12, dtype=np.float32))
    _, bigger, *_ = env.step(np.ones(12, dtype=np.float32))
    assert bigger < big <= calm

"""The graph observation: one row per service, independent of the app's size and names."""

from __future__ import annotations

import numpy as np

from envs.autoscale_graph import AutoscaleGraphEnv
from envs.graph_features import (
    APP_FEATURES,
    MAX_SERVICES,
    PACKED_SIZE,
    SERVICE_FEATURES,
    callers_matrix,
    graph_observation_schema,
    unpack,
)
from envs.randomize import RandomizationSpec


def test_schema_is_the_same_for_every_graph() -> None:
    schema = graph_observation_schema()
    assert len(schema) == SERVICE_FEATURES + APP_FEATURES
    assert all(d["name"].startswith(("service.", "app.")) for d in schema)


def test_env_packs_apps_of_every_size_and_steps_them() -> None:
    env = AutoscaleGraphEnv("black-friday", episode_ticks=5, randomize=RandomizationSpec(),
                            random_probability=0.5, graph_probability=1.0)
    sizes = set()
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        assert obs.shape == (PACKED_SIZE,) and obs.dtype == np.float32
        f = unpack(obs)
        n = info["services"]
        sizes.add(n)
        assert f.services.shape == (n, SERVICE_FEATURES) and f.app.shape == (APP_FEATURES,)
        assert np.array_equal(f.callers, callers_matrix(env.scenario.graph))
        obs, reward, _, trunc, step = env.step(np.zeros(MAX_SERVICES, dtype=np.float32))
        assert np.isfinite(reward) and np.isfinite(obs).all()
        assert step["replicas"] > 0
    assert len(sizes) > 1


def test_boutique_episode_matches_the_flat_env_actions() -> None:
    """The same twin and action: the graph env on the boutique gives the flat env's reward."""
    from envs.autoscale_v2 import AutoscaleV2Env

    flat = AutoscaleV2Env("black-friday", episode_ticks=20)
    graph = AutoscaleGraphEnv("black-friday", episode_ticks=20)
    flat.reset(seed=4)
    graph.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-1, 1, MAX_SERVICES).astype(np.float32)
        _, r1, _, _, i1 = flat.step(a[:12])
        _, r2, _, _, i2 = graph.step(a)
        assert r1 == r2 and i1 == i2

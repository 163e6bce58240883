"""PPO for the graph-conditioned policy (`policy: graph`). Adapter: torch, SB3, gymnasium.

`build_graph_ppo(cfg, scenarios)` makes `n_envs` graph envs (envs/autoscale_graph.py: the named
scenarios, their randomized variants and random apps) batched in one process (DummyVecEnv: the
network runs once per step for all of them), VecNormalize on the reward only (the graph features
are scaled by the encoder, and per-slot statistics would break the weight sharing across
services), and PPO with `GraphActorCriticPolicy`. `GraphEvaluation` scores the deterministic
policy on fixed windows: the black-friday sale opening on the boutique and `EVAL_APPS` random
apps with an event, none of them the unseen graph; it reports the base sizing alone (action 0) on
the same windows, so the curve says whether the network earns its place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from envs.autoscale_graph import AutoscaleGraphEnv
from envs.graph_features import MAX_SERVICES
from envs.random_graph import random_app_scenario
from envs.scenario import Scenario, load_scenario
from training.config import TrainConfig
from training.graph_policy import GraphActorCriticPolicy

EVAL_OFFSET, EVAL_TICKS, EVAL_APPS = 4 * 1440 - 60, 720, 3
EVAL_SEED = 777_000  # random apps for evaluation: seeds the curriculum never draws from


def graph_env(cfg: TrainConfig, scenarios: list[Scenario]) -> AutoscaleGraphEnv:
    return AutoscaleGraphEnv(scenarios, episode_ticks=cfg.episode_ticks,
                             slo_penalty=cfg.reward.slo_penalty,
                             cost_weight=cfg.reward.cost_weight,
                             overload_weight=cfg.reward.overload_weight,
                             randomize=cfg.randomization(),
                             random_probability=cfg.random_probability,
                             graph_probability=cfg.graph_probability, graph_spec=cfg.graph_spec())


def graph_venv(cfg: TrainConfig, scenarios: list[Scenario]) -> DummyVecEnv:
    """`n_envs` graph envs batched in one process, seeded from `cfg.seed`."""
    factory: Callable[[], gym.Env[Any, Any]] = lambda: graph_env(cfg, scenarios)  # noqa: E731
    venv = DummyVecEnv([factory for _ in range(cfg.n_envs)])
    venv.seed(cfg.seed)
    return venv


def build_graph_ppo(cfg: TrainConfig, venv: DummyVecEnv) -> PPO:
    norm = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=cfg.ppo.gamma)
    p = cfg.ppo
    return PPO(GraphActorCriticPolicy, norm, learning_rate=p.learning_rate, n_steps=p.n_steps,
               batch_size=p.batch_size, n_epochs=p.n_epochs, gamma=p.gamma,
               gae_lambda=p.gae_lambda, ent_coef=p.ent_coef, clip_range=p.clip_range,
               policy_kwargs={"hidden": p.hidden, "rounds": p.rounds,
                              "log_std_init": p.log_std_init},
               seed=cfg.seed, device="cpu", verbose=0)


@dataclass(frozen=True)
class Window:
    name: str
    scenario: Scenario
    offset: int
    ticks: int


def eval_windows(cfg: TrainConfig) -> list[Window]:
    """The black-friday opening on the boutique and EVAL_APPS random apps with one event."""
    bf = load_scenario("black-friday")
    out = [Window("black-friday", bf, EVAL_OFFSET, EVAL_TICKS)]
    spec = replace(cfg.randomization(), max_events=1, event_probability=1.0)
    for k in range(EVAL_APPS):
        rng = np.random.default_rng(EVAL_SEED + k)
        sc = random_app_scenario(bf, cfg.graph_spec(), spec, rng)
        event = sc.events[0] if sc.events else None
        at = 0 if event is None else (event.start - sc.start) // timedelta(seconds=sc.tick_seconds)
        offset = int(np.clip(at - 60, 0, max(sc.ticks - EVAL_TICKS, 0)))
        out.append(Window(f"random-app-{k}", replace(sc, name=f"eval-app-{k}"), offset,
                          min(EVAL_TICKS, sc.ticks)))
    return out


Act = Callable[[np.ndarray], np.ndarray]


def run_window(cfg: TrainConfig, window: Window, act: Act) -> dict[str, float]:
    """One deterministic episode: reward, violation minutes, replica-hours."""
    env = graph_env(cfg, [window.scenario])
    env.episode_ticks = window.ticks
    obs, _ = env.reset(seed=12345, options={"offset": window.offset, "scenario": window.scenario})
    total, violated, replicas, done = 0.0, 0, 0, False
    while not done:
        obs, reward, term, trunc, info = env.step(act(obs))
        total, violated = total + reward, violated + int(info["violated"])
        replicas += info["replicas"]
        done = term or trunc
    minutes = window.scenario.tick_seconds / 60
    return {"reward": total, "violation_minutes": violated * minutes,
            "replica_hours": replicas * minutes / 60}


class GraphEvaluation:
    """Scores a model on `eval_windows`; `base` holds the base sizing's own figures."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg, self.windows = cfg, eval_windows(cfg)
        zero = np.zeros(MAX_SERVICES, dtype=np.float32)
        self.base = self._score(lambda obs: zero)

    def _score(self, act: Act) -> dict[str, float]:
        rows = [run_window(self.cfg, w, act) for w in self.windows]
        out = {k: round(sum(r[k] for r in rows), 3) for k in rows[0]}
        for w, r in zip(self.windows, rows, strict=True):
            out[f"{w.name}.violation_minutes"] = r["violation_minutes"]
            out[f"{w.name}.replica_hours"] = round(r["replica_hours"], 1)
        return out

    def __call__(self, model: BaseAlgorithm) -> dict[str, float]:
        def act(obs: np.ndarray) -> np.ndarray:
            a, _ = model.predict(obs[None], deterministic=True)
            return np.asarray(a[0])

        return self._score(act)

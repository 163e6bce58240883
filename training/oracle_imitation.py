"""Warm start for the graph policy: learn the oracle's headroom over the base. Adapter: torch.

PPO from scratch spends its budget re-learning what the base sizing already does, and its
exploration noise pushes it to hedge with capacity everywhere (docs/rl.md). So the actor is
first fitted, by quantile regression, to what the clairvoyant oracle would have asked for:
- `collect` runs the graph envs (random apps, randomized and named scenarios: the training
  distribution) under the base sizing with a little per-episode noise on the action, and records
  each tick's packed observation and, per service, the target log2(ideal / base), where `ideal`
  is the oracle's desired count for the tick the decision is for (`envs.capacity.lead_schedule`
  of the replicas the SLO needs, so pods created then are ready in time) and `base` the
  encoder's base sizing at that tick; clipped to the action range.
- `fit` trains the actor's mean (the same `GraphExtractor` PPO then fine-tunes) with the pinball
  loss at quantile `tau` over the app's real services: a high `tau` keeps it on the safe side of
  the oracle where the features cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs.capacity import lead_schedule, required_replicas
from envs.graph_features import MAX_SERVICES
from envs.scenario import Scenario
from training.config import TrainConfig
from training.graph_policy import GraphActorCriticPolicy, split
from training.graph_train import graph_env


@dataclass(frozen=True)
class ImitationData:
    obs: np.ndarray  # (N, PACKED_SIZE) float32
    target: np.ndarray  # (N, MAX_SERVICES) float32, log2(ideal / base), 0 on padding


def _episode(env_obs: np.ndarray, env: object, noise: float, rng: np.random.Generator
             ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    from envs.autoscale_graph import AutoscaleGraphEnv

    assert isinstance(env, AutoscaleGraphEnv)
    obs, bases, done = [env_obs], [env._base.copy()], False
    offset = rng.uniform(-noise, noise)
    while not done:
        action = np.full(MAX_SERVICES, offset, dtype=np.float32)
        o, _, term, trunc, _ = env.step(action)
        done = term or trunc
        if not done:
            obs.append(o)
            bases.append(env._base.copy())
    twin = env._twin
    assert twin is not None
    ideal = lead_schedule(twin.config, required_replicas(twin.config, twin.entry_rps))
    return obs, bases, ideal


def collect(cfg: TrainConfig, scenarios: list[Scenario], episodes: int, *, ticks: int = 720,
            noise: float = 0.3) -> ImitationData:
    """`episodes` episodes of `ticks` ticks from the training distribution (see module doc)."""
    env = graph_env(cfg, scenarios)
    env.episode_ticks = ticks
    rng = np.random.default_rng(cfg.seed + 1)
    xs, ys = [], []
    for k in range(episodes):
        first, _ = env.reset(seed=cfg.seed * 1000 + k)
        obs, bases, ideal = _episode(first, env, noise, rng)
        n = len(bases[0])
        for t, (o, base) in enumerate(zip(obs, bases, strict=True)):
            if t >= len(ideal):  # obs[t] answers for tick t (obs[0]: the tick before the run)
                break
            y = np.zeros(MAX_SERVICES, dtype=np.float32)
            y[:n] = np.clip(np.log2(np.maximum(ideal[t], 1) / np.maximum(base, 1)), -1, 1)
            xs.append(o)
            ys.append(y)
    return ImitationData(np.stack(xs), np.stack(ys))


def fit(policy: GraphActorCriticPolicy, data: ImitationData, *, tau: float, epochs: int,
        batch_size: int = 512, learning_rate: float = 1e-3, seed: int = 0) -> list[float]:
    """Pinball-loss fit of the actor's mean to `data.target`; returns the loss per epoch."""
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(data.obs), torch.as_tensor(data.target)
    actor = policy._extractor()
    params = [*actor.pi.parameters(), *actor.pi_head.parameters()]
    opt = torch.optim.Adam(params, lr=learning_rate)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total, count = 0.0, 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i: i + batch_size]
            mask = split(x[idx])[2]
            err = y[idx] - actor.forward_actor(x[idx])
            loss = (torch.maximum(tau * err, (tau - 1) * err) * mask).sum() / mask.sum()
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total, count = total + float(loss.detach()) * len(idx), count + len(idx)
        losses.append(total / max(count, 1.0))
    return losses

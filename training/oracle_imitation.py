"""Warm start for the graph policy: learn the oracle's headroom over the base. Adapter: torch.

PPO from scratch spends its budget re-learning what the base sizing already does, and its
exploration noise pushes it to hedge with capacity everywhere (docs/rl.md). So the actor is
first fitted, by quantile regression, to what the clairvoyant oracle would have asked for:
- `collect` runs the graph envs (random apps, randomized and named scenarios: the training
  distribution) under the base sizing with a little per-episode noise on the action, and records
  each tick's packed observation and, per service, the target log2(ideal / base), where `ideal`
  is the oracle's desired count for the tick the decision is for (`envs.capacity.lead_schedule`
  of the replicas the SLO needs, so pods created then are ready in time) and `base` the
  encoder's base sizing at that tick; clipped to the action range. With margins (`margin_up` <=
  `margin_down`, shares of the entry rate) the oracle is a band, not a point: the target raises
  the base to the oracle's count at (1 + margin_up) x the rate where the base is below it, trims
  it to the count at (1 + margin_down) x the rate where the base is above that, and is 0 between
  (both 0: the plain target above). It never trims while demand is more than 10% off the
  forecast either way (the env's action does not trim then either, `envs.action.off_forecast`).
- `fit` trains the actor's mean (the same `GraphExtractor` PPO then fine-tunes) over the app's
  real services with the pinball loss at quantile `tau` (a high `tau` keeps it on the safe side of
  the oracle where the features cannot tell) or the expectile loss at `tau` (0.5: least squares,
  the conditional mean; the target is 0 on most service-ticks, where a quantile fit stays at 0).
  `trim_tau`, when given, is the level for the service-ticks whose target is no raise (0 or a
  trim): one high level everywhere also lifts the ordinary ticks, where over-asking costs that
  level's small weight, so the fit adds capacity it cannot tell from a ramp's and never trims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from envs.action import off_forecast
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


def _episode(env_obs: np.ndarray, env: object, noise: float, rng: np.random.Generator,
             margins: tuple[float, float]
             ) -> tuple[list[np.ndarray], list[np.ndarray], list[bool], list[np.ndarray]]:
    """Observations, base sizings and whether demand is off the forecast at each tick, then the
    oracle's schedules at the two margins."""
    from envs.autoscale_graph import AutoscaleGraphEnv

    assert isinstance(env, AutoscaleGraphEnv)

    def off() -> bool:
        return off_forecast(env._encoder.forecast.surprise_growth)

    obs, bases, offs, done = [env_obs], [env._base.copy()], [off()], False
    offset = rng.uniform(-noise, noise)
    while not done:
        action = np.full(MAX_SERVICES, offset, dtype=np.float32)
        o, _, term, trunc, _ = env.step(action)
        done = term or trunc
        if not done:
            obs.append(o)
            bases.append(env._base.copy())
            offs.append(off())
    twin = env._twin
    assert twin is not None
    schedule = [lead_schedule(twin.config, required_replicas(twin.config, twin.entry_rps * (1 + m)))
                for m in margins]
    return obs, bases, offs, schedule


def band_target(base: np.ndarray, up: np.ndarray, down: np.ndarray, *, hold: bool = False
                ) -> np.ndarray:
    """log2 of the move from `base` into [up, down] (oracle counts at the two margins), 0
    inside the band; clipped to the action range. With `hold` (demand off the forecast) there is
    no trim (the env would not carry it out: `envs.action.action_to_desired`)."""
    b = np.maximum(base, 1)
    raise_to = np.maximum(np.log2(np.maximum(up, 1) / b), 0.0)
    trim_to = 0.0 if hold else np.minimum(np.log2(np.maximum(down, 1) / b), 0.0)
    target: np.ndarray = np.clip(raise_to + trim_to, -1, 1)
    return target


def collect(cfg: TrainConfig, scenarios: list[Scenario], episodes: int, *, ticks: int = 720,
            noise: float = 0.3, margins: tuple[float, float] = (0.0, 0.0)) -> ImitationData:
    """`episodes` episodes of `ticks` ticks from the training distribution (see module doc);
    `margins`: (margin_up, margin_down)."""
    if not 0 <= margins[0] <= margins[1]:
        raise ValueError(f"imitation margins must be 0 <= up <= down, got {margins}")
    env = graph_env(cfg, scenarios)
    env.episode_ticks = ticks
    rng = np.random.default_rng(cfg.seed + 1)
    xs, ys = [], []
    for k in range(episodes):
        first, _ = env.reset(seed=cfg.seed * 1000 + k)
        obs, bases, offs, (up, down) = _episode(first, env, noise, rng, margins)
        n = len(bases[0])
        for t, (o, base, off) in enumerate(zip(obs, bases, offs, strict=True)):
            if t >= len(up):  # obs[t] answers for tick t (obs[0]: the tick before the run)
                break
            y = np.zeros(MAX_SERVICES, dtype=np.float32)
            y[:n] = band_target(base, up[t], down[t], hold=off)
            xs.append(o)
            ys.append(y)
    return ImitationData(np.stack(xs), np.stack(ys))


Loss = Literal["pinball", "expectile"]


def fit(policy: GraphActorCriticPolicy, data: ImitationData, *, tau: float, epochs: int,
        batch_size: int = 512, learning_rate: float = 1e-3, seed: int = 0,
        loss: Loss = "pinball", trim_tau: float | None = None) -> list[float]:
    """Pinball- or expectile-loss fit of the actor's mean to `data.target` (at `tau` where the
    target raises the base, at `trim_tau` elsewhere); returns the loss per epoch."""
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(data.obs), torch.as_tensor(data.target)
    trim = tau if trim_tau is None else trim_tau
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
            level = torch.where(y[idx] > 0, tau, trim)
            if loss == "pinball":
                per = torch.maximum(level * err, (level - 1) * err)
            else:
                per = torch.where(err < 0, 1 - level, level) * err ** 2
            value = (per * mask).sum() / mask.sum()
            opt.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total, count = total + float(value.detach()) * len(idx), count + len(idx)
        losses.append(total / max(count, 1.0))
    return losses

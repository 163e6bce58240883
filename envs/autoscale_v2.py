"""`edgewise/Autoscale-v4`: the twin as a gymnasium env with forecast and graph features.

Differences from v0 (envs/autoscale.py, unchanged). v2 replaced v1 (whose base sizing was the
q84 of a seasonal-naive forecast, x exp(week-over-week spread)); v1 models are refused at load.
- Observation: `envs.features.FeatureEncoder` (the same encoder the RL policy adapter uses):
  per service load, utilisation, pending, p95, position relative to the base sizing, and graph
  features (depth, visits per request, critical-path share, start-up ticks); globally the SLO
  state, time encodings, the next announced event and forecast quantiles q10/q50/q90 over 5, 30
  and 120 ticks. `observation_schema` gives names and units.
- Action: Box(-1, 1, (services,)), a log2 multiplier on the encoder's base sizing (the replicas
  the SLO needs, by the twin's latency model, at the peak over each service's start-up lead of
  max(q50 forecast, current rate) x exp(2.25 x the forecast's fitted log spread at that tick,
  `envs.entry_forecast`)): desired = round(base x 2 ** action), except that while the entry
  rate is more than 10% off the forecast's expectation over 15 ticks, either way, the action
  cannot trim below the base (`envs.action.action_to_desired`; the runtime maps it the same
  way). The agent learns headroom, not sizing from scratch, so a short training run is enough
  (30 minutes on 2 cores).
- Training data: `scenarios` (one or several, picked uniformly per episode) and an optional
  `randomize` curriculum (envs/randomize.py): with probability `random_probability` an episode
  runs on a randomized scenario (events, demand scale, graph parameters) instead.

Reward per tick: -(slo_penalty x [tick violated the SLO] + cost_weight x tick cost / reference
cost + overload_weight x mean over services of max(0, offered / ready capacity - 1)). The last
term (default 0.2) is shaping: it says which services caused a violation, which the joint SLO
flag cannot, and speeds up credit assignment across the per-service actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.action import action_to_desired
from envs.capacity import required_replicas
from envs.features import FeatureContext, FeatureEncoder, observation_schema
from envs.randomize import RandomizationSpec, random_scenario
from envs.scenario import Scenario, load_scenario
from envs.twin import Twin

OBS_LIMIT = 16.0


class AutoscaleV2Env(gym.Env[np.ndarray, np.ndarray]):
    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario | Sequence[str | Scenario] = "black-friday",
        *,
        episode_ticks: int | None = 1440,
        slo_penalty: float = 1.0,
        cost_weight: float = 0.3,
        overload_weight: float = 0.2,
        randomize: RandomizationSpec | None = None,
        random_probability: float = 0.0,
    ) -> None:
        raw = [scenario] if isinstance(scenario, str | Scenario) else list(scenario)
        self.scenarios = [load_scenario(s) if isinstance(s, str) else s for s in raw]
        if not self.scenarios:
            raise ValueError("AutoscaleV2Env: give at least one scenario")
        names = {s.graph.names for s in self.scenarios}
        if len(names) != 1:
            raise ValueError("AutoscaleV2Env: all scenarios must share one service graph")
        self.graph = self.scenarios[0].graph
        self.episode_ticks = episode_ticks
        self.slo_penalty, self.cost_weight = slo_penalty, cost_weight
        self.overload_weight = overload_weight
        self.randomize, self.random_probability = randomize, random_probability
        n = len(self.graph.services)
        self.observation_schema = observation_schema(self.graph)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self.observation_space = spaces.Box(-OBS_LIMIT, OBS_LIMIT,
                                            shape=(len(self.observation_schema),), dtype=np.float32)
        self._twin: Twin | None = None

    @property
    def observation_names(self) -> list[str]:
        return [d["name"] for d in self.observation_schema]

    def _draw(self) -> Scenario:
        rng = self.np_random
        sc = self.scenarios[int(rng.integers(len(self.scenarios)))]
        if self.randomize is not None and rng.random() < self.random_probability:
            sc = random_scenario(sc, self.randomize, rng)
        return sc

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        sc = (options or {}).get("scenario") or self._draw()
        history, run = sc.demand(int(self.np_random.integers(2**31)))
        ticks = min(self.episode_ticks or sc.ticks, sc.ticks)
        offset = int(self.np_random.integers(sc.ticks - ticks + 1))
        if options and "offset" in options:
            offset = int(options["offset"])
        self.scenario, config = sc, sc.config()
        past = np.concatenate([history, run[:offset]])
        self._encoder = FeatureEncoder(FeatureContext(sc.graph, sc.slo, sc.tick_seconds, past,
                                                      sc.calendar))
        start = sc.start + timedelta(seconds=offset * sc.tick_seconds)
        before = float(past[-1]) if len(past) else float(run[0])
        window = run[offset : offset + ticks]
        self._twin = Twin(config, window, start, before_rps=before)
        self._twin.reset(required_replicas(config, np.array([before]))[0])
        mean_need = required_replicas(config, np.array([float(window.mean())]))[0]
        self._reference_cost = float(mean_need @ config.replica_hour_price()) * (
            sc.tick_seconds / 3600.0)
        obs, self._base = self._encoder.encode(self._twin.observe())
        return obs, {"offset": offset, "scenario": sc.name}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        twin = self._twin
        if twin is None:
            raise RuntimeError("call reset() before step()")
        growth = self._encoder.forecast.surprise_growth
        twin.step(action_to_desired(self._base, action, growth))
        t = twin.t - 1
        m = twin.tick_metrics(t)
        violated, cost = bool(m.violation[0]), float(m.cost[0])
        traj = twin.trajectory()
        offered = twin.rates[t] / np.maximum(traj.ready[t] * twin.config.capacity_rps, 1e-9)
        overload = float(np.maximum(offered - 1.0, 0.0).clip(max=4.0).mean())
        reward = -(self.slo_penalty * violated + self.cost_weight * cost / self._reference_cost
                   + self.overload_weight * overload)
        obs, self._base = self._encoder.encode(twin.observe())
        info = {"violated": violated, "cost": cost, "e2e_p95_ms": float(m.e2e_p95_ms[0]),
                "replicas": int(traj.desired[t].sum())}
        return obs, float(reward), False, twin.done, info

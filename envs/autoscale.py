"""`edgewise/Autoscale-v0`: the twin as a gymnasium environment.

Each step is one tick. The agent sets every service's replicas relative to its current desired
count; the twin simulates the tick; the reward charges SLO violations and cost.

Observation (float32, fixed layout, see `observation_names`):
- per service: demand in replicas' worth at 100% (rate / capacity_rps) / max_replicas,
  CPU utilisation of ready pods, ready / max_replicas, pending / max_replicas,
  service p95 / SLO p95 (capped at 4);
- global: end-to-end p95 / SLO (capped at 4), error ratio, entry demand / base demand,
  sin and cos of time of day and of day of week, and the next announced event within 24 h:
  hours until it starts / 24 (1 if none), its multiplier / 10, whether one is under way.

Action: Box(-1, 1, (services,)); desired = round(current desired x 2 ** action), then clipped
to [min_replicas, max_replicas] (at most x2 or /2 per tick).

Reward per tick: -(slo_penalty x [tick violated the SLO] + cost_weight x tick cost / reference
cost), where the reference is the tick cost of the replicas the SLO needs at the scenario's mean
demand; so about -cost_weight per tick when sized right, and -slo_penalty more when violating.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.capacity import required_replicas
from envs.features import calendar_features
from envs.observation import Observation
from envs.scenario import Scenario, load_scenario
from envs.twin import Twin

PER_SERVICE = ("demand_share", "cpu_utilization", "ready_share", "pending_share", "p95_over_slo")
GLOBAL = (
    "e2e_p95_over_slo",
    "error_ratio",
    "entry_rate_over_base",
    "tod_sin",
    "tod_cos",
    "dow_sin",
    "dow_cos",
    "event_hours_until_over_24",
    "event_multiplier_over_10",
    "event_active",
)
LATENCY_CAP = 4.0
OBS_HIGH = 16.0  # every feature is clipped to [-1, 16]


class AutoscaleEnv(gym.Env[np.ndarray, np.ndarray]):
    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario = "black-friday",
        *,
        episode_ticks: int | None = 1440,
        slo_penalty: float = 1.0,
        cost_weight: float = 0.1,
    ) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.config = self.scenario.config()
        self.episode_ticks = min(episode_ticks or self.scenario.ticks, self.scenario.ticks)
        self.slo_penalty, self.cost_weight = slo_penalty, cost_weight
        n = len(self.scenario.graph.services)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self.observation_space = spaces.Box(
            -1.0, OBS_HIGH, shape=(n * len(PER_SERVICE) + len(GLOBAL),), dtype=np.float32
        )
        self._max = self.config.max_replicas.astype(float)
        self._twin: Twin | None = None

    @property
    def observation_names(self) -> list[str]:
        names = self.scenario.graph.names
        return [f"{s}.{f}" for s in names for f in PER_SERVICE] + list(GLOBAL)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        demand_seed = int(self.np_random.integers(2**31))
        _, run = self.scenario.demand(demand_seed)
        offset = 0
        if self.episode_ticks < self.scenario.ticks:
            offset = int(self.np_random.integers(self.scenario.ticks - self.episode_ticks + 1))
        if options and "offset" in options:
            offset = int(options["offset"])
        self._offset = offset
        window = run[offset : offset + self.episode_ticks]
        start = self.scenario.start + timedelta(seconds=offset * self.scenario.tick_seconds)
        before = run[offset - 1] if offset > 0 else window[0]
        self._twin = Twin(self.config, window, start, before_rps=float(before))
        self._twin.reset(required_replicas(self.config, np.array([before]))[0])
        mean_need = required_replicas(self.config, np.array([float(run.mean())]))[0]
        self._reference_cost = float(mean_need @ self.config.replica_hour_price()) * (
            self.scenario.tick_seconds / 3600.0
        )
        obs = self._twin.observe()
        return self._encode(obs), {"offset": offset}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        twin = self._twin
        if twin is None:
            raise RuntimeError("call reset() before step()")
        current = twin.observe().desired
        a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
        twin.step(np.rint(current * np.exp2(a)))
        t = twin.t - 1
        m = twin.tick_metrics(t)
        violated = bool(m.violation[0])
        cost = float(m.cost[0])
        reward = -(self.slo_penalty * violated + self.cost_weight * cost / self._reference_cost)
        obs = twin.observe()
        info = {
            "violated": violated,
            "cost": cost,
            "e2e_p95_ms": float(m.e2e_p95_ms[0]),
            "replicas": int(twin.trajectory().desired[t].sum()),
        }
        return self._encode(obs), float(reward), False, twin.done, info

    def _encode(self, obs: Observation) -> np.ndarray:
        sc = self.scenario
        slo = sc.slo.p95_latency_ms
        demand = obs.rate_rps / self.config.capacity_rps / self._max
        per = np.stack(
            [
                demand,
                obs.cpu_utilization,
                obs.ready / self._max,
                obs.pending / self._max,
                np.minimum(obs.p95_latency_ms / slo, LATENCY_CAP),
            ],
            axis=1,
        ).ravel()
        day = (obs.now.hour * 3600 + obs.now.minute * 60 + obs.now.second) / 86_400
        week = (obs.now.weekday() + day) / 7
        until, mult, active = calendar_features(sc.calendar, obs.now)
        glob = np.array(
            [
                min(obs.e2e_p95_latency_ms / slo, LATENCY_CAP),
                obs.error_ratio,
                obs.entry_rate_rps / sc.workload.base_rps,
                np.sin(2 * np.pi * day),
                np.cos(2 * np.pi * day),
                np.sin(2 * np.pi * week),
                np.cos(2 * np.pi * week),
                until,
                mult,
                active,
            ]
        )
        encoded: np.ndarray = np.clip(np.concatenate([per, glob]), -1.0, OBS_HIGH)
        return encoded.astype(np.float32)

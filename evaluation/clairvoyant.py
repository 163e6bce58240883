"""Baselines that read the future: evaluation tools for the twin, never runtime policies.

- `StaticPeakPolicy`: provision for the scenario's peak all the time (the Q4 "just buy enough").
- `OraclePolicy`: clairvoyant: knows future demand, and has exactly the replicas the SLO needs
  ready in time, at the least replica count the twin's model allows. The physical limit.
"""

from __future__ import annotations

import numpy as np

from envs.capacity import lead_schedule, required_replicas
from envs.observation import Observation
from envs.twin_config import TwinConfig
from scaler.policy import PolicyContext


class StaticPeakPolicy:
    name = "static-peak"

    def __init__(self, config: TwinConfig, future_rps: np.ndarray) -> None:
        self._replicas = required_replicas(config, future_rps).max(axis=0)

    def reset(self, ctx: PolicyContext) -> None:
        return None

    def decide(self, obs: Observation) -> np.ndarray:
        result: np.ndarray = self._replicas
        return result


class OraclePolicy:
    name = "oracle"

    def __init__(self, config: TwinConfig, future_rps: np.ndarray) -> None:
        self.schedule = lead_schedule(config, required_replicas(config, future_rps))

    def reset(self, ctx: PolicyContext) -> None:
        return None

    def decide(self, obs: Observation) -> np.ndarray:
        result: np.ndarray = self.schedule[min(obs.tick + 1, len(self.schedule) - 1)]
        return result

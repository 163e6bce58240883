"""A desired-replica floor known in advance (a plan), optionally under a reactive policy.

This is how a plan runs in-cluster: KEDA cron triggers (or HPA minReplicas patches) hold the
floor and the CPU HPA may scale above it; KEDA and the HPA take the maximum of the two.
"""

from __future__ import annotations

import numpy as np

from envs.observation import Observation
from scaler.policy import Policy, PolicyContext


class FloorPolicy:
    """desired[t] = max(floor[t], inner's answer); `floor` is (ticks, services)."""

    def __init__(self, name: str, floor: np.ndarray, inner: Policy | None = None) -> None:
        self.name = name
        self.floor = np.asarray(floor, dtype=int)
        self.inner = inner

    def reset(self, ctx: PolicyContext) -> None:
        if self.inner is not None:
            self.inner.reset(ctx)

    def decide(self, obs: Observation) -> np.ndarray:
        floor: np.ndarray = self.floor[min(obs.tick + 1, len(self.floor) - 1)]
        if self.inner is None:
            return floor
        result: np.ndarray = np.maximum(floor, self.inner.decide(obs))
        return result

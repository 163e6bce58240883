"""The learned policy's base sizing alone: what `rl-raw` would do if its network always said 0.

The RL policy's action is a log2 multiplier on a base sizing (envs/features.py: the replicas
the SLO needs, by the twin's latency model, at the forecast's upper peak over each service's
start-up lead). `BaseSizingPolicy` ("base") runs that encoder and returns the base itself, with
no network and no guardrails, so a benchmark can say what the network adds (issue 15:
`network_gain`, rl-raw against base). Pure numpy.
"""

from __future__ import annotations

import numpy as np

from envs.action import action_to_desired
from envs.features import FeatureContext, FeatureEncoder
from envs.observation import Observation
from scaler.policy import PolicyContext


class BaseSizingPolicy:
    def __init__(self, name: str = "base") -> None:
        self.name = name
        self._encoder: FeatureEncoder | None = None

    def reset(self, ctx: PolicyContext) -> None:
        self._encoder = FeatureEncoder(FeatureContext(ctx.graph, ctx.slo, ctx.tick_seconds,
                                                      ctx.history_rps, ctx.calendar))

    def decide(self, obs: Observation) -> np.ndarray:
        if self._encoder is None:
            raise RuntimeError("BaseSizingPolicy.decide called before reset(ctx)")
        _, base = self._encoder.encode(obs)
        return action_to_desired(base, np.zeros(len(base)))

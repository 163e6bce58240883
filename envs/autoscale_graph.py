"""`edgewise/Autoscale-v2` observed as a graph: the env a graph-conditioned policy trains in.

The twin, the action (a log2 multiplier per service on the base sizing), the reward and the
curriculum are `envs.autoscale_v2.AutoscaleV2Env`'s; what differs is the observation and the apps:
- Observation: `envs.graph_features.pack` of the `GraphFeatureEncoder`'s features (per-service
  rows, app-wide features, the call graph), padded to `MAX_SERVICES` services with a mask, so one
  network serves every service of every app.
- Action: Box(-1, 1, (MAX_SERVICES,)); the first n entries act on the app's n services, the rest
  are padding (the policy masks them out of its log-likelihood).
- Apps: with probability `graph_probability` an episode runs on a random app
  (`envs.random_graph.random_app_scenario`: 5-40 services, random fan-outs, capacities, start-up
  times, CPU limits, SLO and demand level, then the curriculum's events), else on the given
  scenarios (and their randomized variants, as in v2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.autoscale_v2 import OBS_LIMIT, AutoscaleV2Env
from envs.features import FeatureEncoder
from envs.graph_features import MAX_SERVICES, PACKED_SIZE, GraphFeatureEncoder, GraphFeatures, pack
from envs.random_graph import GraphSpec, random_app_scenario
from envs.randomize import RandomizationSpec
from envs.scenario import Scenario


class AutoscaleGraphEnv(AutoscaleV2Env):
    def __init__(self, scenario: str | Scenario | Sequence[str | Scenario] = "black-friday", *,
                 graph_probability: float = 0.0, graph_spec: GraphSpec | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scenario, **kwargs)
        if not 0 <= graph_probability <= 1:
            raise ValueError("AutoscaleGraphEnv: graph_probability must be within [0, 1]")
        self.graph_probability = graph_probability
        self.graph_spec = graph_spec or GraphSpec()
        self.action_space = spaces.Box(-1.0, 1.0, shape=(MAX_SERVICES,), dtype=np.float32)
        self.observation_space = spaces.Box(-OBS_LIMIT, OBS_LIMIT, shape=(PACKED_SIZE,),
                                            dtype=np.float32)
        self._n = len(self.graph.services)

    def _draw(self) -> Scenario:
        rng = self.np_random
        if self.graph_probability > 0 and rng.random() < self.graph_probability:
            base = self.scenarios[int(rng.integers(len(self.scenarios)))]
            return random_app_scenario(base, self.graph_spec, self.randomize or RandomizationSpec(),
                                       rng)
        return super()._draw()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        _, info = super().reset(seed=seed, options=options)
        flat = self._encoder
        assert isinstance(flat, FeatureEncoder) and self._twin is not None
        graph = GraphFeatureEncoder.around(flat)
        self._encoder = graph  # type: ignore[assignment]
        self._n = len(self.scenario.graph.services)
        feats, self._base = graph.encode(self._twin.observe())
        return pack(feats), info | {"services": self._n}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, term, trunc, info = super().step(np.asarray(action)[: self._n])
        feats: Any = obs  # the graph encoder's output (reset swapped the encoder)
        assert isinstance(feats, GraphFeatures)
        return pack(feats), reward, term, trunc, info

"""The runtime files of a graph-conditioned export. Adapter: reads the torch policy.

`write_graph_runtime_files(model, directory)` writes `actor.npz` version 2
(scaler/learned/graph_actor.py: the actor's weights copied out of torch) and `obs_norm.npz` with
identity statistics over one service row and the app row (mean 0, variance 1, clip at the
encoder's bound): the graph features are scaled by the encoder itself, so the runtime's
normalisation is a no-op kept for one export layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from envs.graph_features import APP_FEATURES, FEATURE_LIMIT, SERVICE_FEATURES
from scaler.learned.graph_actor import (
    GraphActor,
    GraphActorSpec,
    graph_actor_spec,
    save_graph_actor,
)
from training.errors import ExportError
from training.graph_policy import GraphActorCriticPolicy


def graph_actor_of(model: BaseAlgorithm, source: str) -> GraphActor:
    policy = model.policy
    if not isinstance(policy, GraphActorCriticPolicy):
        raise ExportError(f"model {source!r}: policy {type(policy).__name__} is not the graph "
                          "actor-critic")
    return policy.numpy_actor()


def write_graph_runtime_files(model: BaseAlgorithm, directory: Path) -> GraphActorSpec:
    actor = graph_actor_of(model, str(directory))
    save_graph_actor(actor, directory)
    n = SERVICE_FEATURES + APP_FEATURES
    np.savez(directory / "obs_norm.npz", mean=np.zeros(n), var=np.ones(n) - 1e-8,
             clip_obs=np.array(FEATURE_LIMIT))
    return graph_actor_spec(actor, SERVICE_FEATURES)

"""The RL policy as a `scaler.policy.Policy`: an exported SB3 model acting through the encoder.

Adapter (imports torch and stable-baselines3). `RLPolicy.load(path | "default")` checks the
manifest (env id and version, checksums), loads the PPO model on CPU and the observation
statistics; `reset(ctx)` checks that the model's observation schema is the one this code
encodes for `ctx.graph`; `decide(obs)` encodes the observation exactly as the env does
(`envs.features.FeatureEncoder`), normalises it as VecNormalize did, runs the actor
deterministically and maps the action to replicas (`envs.autoscale_v2.action_to_desired`).
The actor runs as numpy matrix products on weights copied out of the torch module at load: the
same arithmetic (float32) without torch's per-call overhead, which dominated a decision.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.torch_layers import FlattenExtractor

from envs.action import action_to_desired
from envs.features import FeatureContext, FeatureEncoder, observation_schema
from envs.graph import ServiceGraph
from envs.observation import Observation
from scaler.errors import ModelCorruptError
from scaler.learned.manifest import Manifest, check_manifest, check_schema
from scaler.policy import PolicyContext

DEFAULT = "default"
Activation = Callable[[np.ndarray], np.ndarray]
ACTIVATIONS: dict[type[torch.nn.Module], Activation] = {
    torch.nn.Tanh: np.tanh, torch.nn.ReLU: lambda x: np.maximum(x, 0.0)}
Layer = tuple[np.ndarray, np.ndarray, Activation | None]


def actor_layers(model: PPO, source: str) -> list[Layer]:
    """(weight.T, bias, activation) per linear layer of the deterministic actor."""
    policy = model.policy
    if not isinstance(policy.pi_features_extractor, FlattenExtractor):
        raise ModelCorruptError(f"model {source!r}: features extractor "
                                f"{type(policy.pi_features_extractor).__name__} is not supported")
    layers: list[Layer] = []
    for module in [*policy.mlp_extractor.policy_net, policy.action_net]:
        if isinstance(module, torch.nn.Linear):
            layers.append((module.weight.detach().numpy().T.copy(),
                           module.bias.detach().numpy().copy(), None))
        elif type(module) in ACTIVATIONS and layers and layers[-1][2] is None:
            w, b, _ = layers[-1]
            layers[-1] = (w, b, ACTIVATIONS[type(module)])
        else:
            raise ModelCorruptError(f"model {source!r}: actor layer {module!r} is not supported")
    return layers


def default_model_dir() -> Path:
    return Path(str(resources.files("scaler.learned").joinpath("default-policy")))


class RLPolicy:
    """`name` is "rl-raw": wrap it in scaler.guardrails.GuardedPolicy for "rl"."""

    def __init__(self, model: PPO, obs_mean: np.ndarray, obs_var: np.ndarray, clip_obs: float,
                 manifest: Manifest, *, source: str = "", name: str = "rl-raw") -> None:
        self.model, self.manifest, self.source, self.name = model, manifest, source, name
        self._mean, self._std = obs_mean, np.sqrt(obs_var + 1e-8)
        self._clip = clip_obs
        self._encoder: FeatureEncoder | None = None
        self._layers = actor_layers(model, source)

    @classmethod
    def load(cls, path: str | Path = DEFAULT, *, name: str = "rl-raw") -> RLPolicy:
        directory = default_model_dir() if str(path) == DEFAULT else Path(path)
        if not directory.is_dir():
            raise ModelCorruptError(f"model {str(directory)!r}: not a directory (give an export "
                                    "directory written by `edgewise train`, or `default`)")
        manifest = check_manifest(directory)
        try:
            norm = np.load(directory / "obs_norm.npz")
            mean, var, clip = norm["mean"], norm["var"], float(norm["clip_obs"])
            model = PPO.load(directory / "model.zip", device="cpu")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, RuntimeError) as e:
            raise ModelCorruptError(
                f"model {str(directory)!r}: cannot load ({e}); re-export") from e
        n = len(manifest.observation_schema)
        if mean.shape != (n,) or model.observation_space.shape != (n,):
            raise ModelCorruptError(f"model {str(directory)!r}: weights or statistics do not "
                                    f"match the manifest's {n} features; re-export")
        return cls(model, mean, var, clip, manifest, source=str(directory), name=name)

    def clone(self, name: str | None = None) -> RLPolicy:
        """A fresh policy sharing the loaded weights (its own encoder state)."""
        return RLPolicy(self.model, self._mean, self._std**2 - 1e-8, self._clip, self.manifest,
                        source=self.source, name=name or self.name)

    def check_graph(self, graph: ServiceGraph) -> None:
        """Raise SchemaMismatchError unless the model observes this graph's schema."""
        check_schema(self.manifest, observation_schema(graph), self.source)

    def reset(self, ctx: PolicyContext) -> None:
        self.check_graph(ctx.graph)
        self._encoder = FeatureEncoder(FeatureContext(ctx.graph, ctx.slo, ctx.tick_seconds,
                                                      ctx.history_rps, ctx.calendar))

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """The observation as the network saw it in training (VecNormalize's statistics)."""
        x: np.ndarray = np.clip((features - self._mean) / self._std, -self._clip, self._clip)
        return x.astype(np.float32)

    def act(self, features: np.ndarray) -> np.ndarray:
        """Deterministic action (log2 multipliers) for one encoded observation."""
        h = self.normalize(features)
        for weight, bias, activation in self._layers:
            h = h @ weight + bias
            if activation is not None:
                h = activation(h)
        action: np.ndarray = np.clip(h, -1.0, 1.0)
        return action

    def decide(self, obs: Observation) -> np.ndarray:
        if self._encoder is None:
            raise RuntimeError("RLPolicy.decide called before reset(ctx)")
        features, base = self._encoder.encode(obs)
        return action_to_desired(base, self.act(features))

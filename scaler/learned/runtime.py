"""The RL policy as a `scaler.policy.Policy`: an export's actor acting through the encoder.

Pure numpy: no torch, no stable-baselines3, no pickle. `RLPolicy.load(path | "default",
trusted_keys=...)` verifies the manifest's signature when trusted keys are given
(scaler/learned/signature.py), checks the manifest (env id and version, checksums), and reads
only plain arrays: the actor's weights (`actor.npz`, architecture from the manifest,
scaler/learned/actor.py) and the observation statistics (`obs_norm.npz`), both with
`allow_pickle=False`. SB3's `model.zip` and `vecnormalize.pkl` are never opened here.
`reset(ctx)` checks that the model's observation schema is the one this code encodes for
`ctx.graph`; `decide(obs)` encodes the observation exactly as the env does
(`envs.features.FeatureEncoder`), normalises it as VecNormalize did, runs the actor
deterministically (float32, the arithmetic of SB3's `predict`) and maps the action to replicas
(`envs.autoscale_v2.action_to_desired`).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from envs.action import action_to_desired
from envs.features import FeatureContext, FeatureEncoder, observation_schema
from envs.graph import ServiceGraph
from envs.observation import Observation
from scaler.errors import ModelCorruptError
from scaler.learned.actor import Actor, load_actor, parse_actor_spec
from scaler.learned.manifest import Manifest, check_manifest, check_schema
from scaler.learned.signature import verify_export
from scaler.policy import PolicyContext

DEFAULT = "default"
NORM_FILE = "obs_norm.npz"


def default_model_dir() -> Path:
    return Path(str(resources.files("scaler.learned").joinpath("default-policy")))


def load_obs_norm(directory: Path, n: int, where: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, var, clip) of `obs_norm.npz`, never unpickling; shapes checked against `n`."""
    try:
        with np.load(directory / NORM_FILE, allow_pickle=False) as norm:
            mean, var = np.asarray(norm["mean"]), np.asarray(norm["var"])
            clip = float(norm["clip_obs"])
    except (OSError, ValueError, KeyError, TypeError, EOFError) as e:
        raise ModelCorruptError(f"model {where!r}: cannot read {NORM_FILE} ({e}); "
                                "re-export") from e
    if mean.shape != (n,) or var.shape != (n,) or not (
            mean.dtype.kind == var.dtype.kind == "f"):
        raise ModelCorruptError(f"model {where!r}: {NORM_FILE} statistics do not match the "
                                f"manifest's {n} features; re-export")
    if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()
            and np.isfinite(clip) and clip > 0):
        raise ModelCorruptError(f"model {where!r}: {NORM_FILE} holds non-finite or negative "
                                "statistics; re-export")
    return mean, var, clip


class RLPolicy:
    """`name` is "rl-raw": wrap it in scaler.guardrails.GuardedPolicy for "rl"."""

    def __init__(self, actor: Actor, obs_mean: np.ndarray, obs_var: np.ndarray, clip_obs: float,
                 manifest: Manifest, *, source: str = "", name: str = "rl-raw",
                 signed_by: str | None = None) -> None:
        self.actor, self.manifest, self.source, self.name = actor, manifest, source, name
        self.signed_by = signed_by  # the id of the trusted key that verified it, if any
        self._mean, self._var = obs_mean, obs_var
        self._std = np.sqrt(obs_var + 1e-8)
        self._clip = clip_obs
        self._encoder: FeatureEncoder | None = None

    @classmethod
    def load(cls, path: str | Path = DEFAULT, *, name: str = "rl-raw",
             trusted_keys: Sequence[Ed25519PublicKey] = ()) -> RLPolicy:
        """The export at `path`; with `trusted_keys`, only if one of them signed its manifest."""
        directory = default_model_dir() if str(path) == DEFAULT else Path(path)
        where = str(directory)
        if not directory.is_dir():
            raise ModelCorruptError(f"model {where!r}: not a directory (give an export "
                                    "directory written by `edgewise train`, or `default`)")
        signed_by = verify_export(directory, trusted_keys, where) if trusted_keys else None
        manifest = check_manifest(directory)
        spec = parse_actor_spec(manifest.actor, where)
        n, out = len(manifest.observation_schema), manifest.action_space.get("shape")
        if spec.layers[0].inputs != n or [spec.layers[-1].outputs] != out:
            raise ModelCorruptError(f"model {where!r}: the actor maps {spec.layers[0].inputs} "
                                    f"features to {spec.layers[-1].outputs} actions; the "
                                    f"manifest has {n} features and action shape {out}; "
                                    "re-export")
        actor = load_actor(directory, spec, where)
        mean, var, clip = load_obs_norm(directory, n, where)
        return cls(actor, mean, var, clip, manifest, source=where, name=name, signed_by=signed_by)

    def clone(self, name: str | None = None) -> RLPolicy:
        """A fresh policy sharing the loaded weights (its own encoder state)."""
        return RLPolicy(self.actor, self._mean, self._var, self._clip, self.manifest,
                        source=self.source, name=name or self.name, signed_by=self.signed_by)

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
        action: np.ndarray = np.clip(self.actor(self.normalize(features)), -1.0, 1.0)
        return action

    def decide(self, obs: Observation) -> np.ndarray:
        if self._encoder is None:
            raise RuntimeError("RLPolicy.decide called before reset(ctx)")
        features, base = self._encoder.encode(obs)
        return action_to_desired(base, self.act(features))

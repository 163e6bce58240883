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
as the env's step does (`envs.action.action_to_desired`, which stops trimming below the base
while demand is off the forecast).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from threadpoolctl import ThreadpoolController

from envs.action import action_to_desired
from envs.features import FeatureContext, FeatureEncoder, observation_schema
from envs.graph import ServiceGraph
from envs.graph_features import GraphFeatureEncoder, GraphFeatures, graph_observation_schema
from envs.observation import Observation
from scaler.errors import ModelCorruptError
from scaler.learned.actor import Actor, load_actor, parse_actor_spec
from scaler.learned.graph_actor import (
    GRAPH_ACTOR_VERSION,
    MLP_ACTOR_VERSION,
    GraphActor,
    actor_version,
    load_graph_actor,
    parse_graph_actor_spec,
)
from scaler.learned.manifest import Manifest, check_manifest, check_schema
from scaler.learned.signature import verify_export
from scaler.policy import PolicyContext

DEFAULT = "default"
NORM_FILE = "obs_norm.npz"


def default_model_dir() -> Path:
    return Path(str(resources.files("scaler.learned").joinpath("default-policy")))


@cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries (found at first use), so the actor's small products run on
    the calling thread: on a busy machine waiting for OpenBLAS's helper threads took the
    96-unit default's decision on a 40-service app from 0.3 ms to 16 ms CPU at p99
    (`bench.policy_latency`)."""
    return ThreadpoolController()


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


Network = Actor | GraphActor


class RLPolicy:
    """`name` is "rl-raw": wrap it in scaler.guardrails.GuardedPolicy for "rl".

    Two actor formats (the manifest's `actor.version`): 1, the MLP over one app's services in a
    fixed order (scaler/learned/actor.py; exports without a version field are this); 2, the
    graph-conditioned network shared by every service (scaler/learned/graph_actor.py), which
    runs on any app. Any other version is refused with a message naming the two."""

    def __init__(self, actor: Network, obs_mean: np.ndarray, obs_var: np.ndarray,
                 clip_obs: float, manifest: Manifest, *, source: str = "", name: str = "rl-raw",
                 signed_by: str | None = None) -> None:
        self.actor, self.manifest, self.source, self.name = actor, manifest, source, name
        self.signed_by = signed_by  # the id of the trusted key that verified it, if any
        self._mean, self._var = obs_mean, obs_var
        self._std = np.sqrt(obs_var + 1e-8)
        self._clip = clip_obs
        self._encoder: FeatureEncoder | GraphFeatureEncoder | None = None

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
        version = actor_version(manifest.actor)
        n = len(manifest.observation_schema)
        actor: Network
        if version == GRAPH_ACTOR_VERSION:
            gspec = parse_graph_actor_spec(manifest.actor, where)
            if gspec.service_features + gspec.app_features != n:
                raise ModelCorruptError(f"model {where!r}: the graph actor reads "
                                        f"{gspec.service_features + gspec.app_features} "
                                        f"features; the manifest's schema has {n}; re-export")
            actor = load_graph_actor(directory, gspec, where)
        elif version == MLP_ACTOR_VERSION:
            spec = parse_actor_spec(manifest.actor, where)
            out = manifest.action_space.get("shape")
            if spec.layers[0].inputs != n or [spec.layers[-1].outputs] != out:
                raise ModelCorruptError(
                    f"model {where!r}: the actor maps {spec.layers[0].inputs} features to "
                    f"{spec.layers[-1].outputs} actions; the manifest has {n} features and "
                    f"action shape {out}; re-export")
            actor = load_actor(directory, spec, where)
        else:
            raise ModelCorruptError(
                f"model {where!r}: manifest.json actor version {manifest.actor.get('version')!r}"
                f" is not one this code runs ({MLP_ACTOR_VERSION}: MLP, {GRAPH_ACTOR_VERSION}: "
                "graph); re-export it with this code's `edgewise train`")
        mean, var, clip = load_obs_norm(directory, n, where)
        return cls(actor, mean, var, clip, manifest, source=where, name=name, signed_by=signed_by)

    @property
    def is_graph(self) -> bool:
        """True for the graph-conditioned network (any app), False for a per-app MLP."""
        return isinstance(self.actor, GraphActor)

    def clone(self, name: str | None = None) -> RLPolicy:
        """A fresh policy sharing the loaded weights (its own encoder state)."""
        return RLPolicy(self.actor, self._mean, self._var, self._clip, self.manifest,
                        source=self.source, name=name or self.name, signed_by=self.signed_by)

    def check_graph(self, graph: ServiceGraph) -> None:
        """Raise SchemaMismatchError unless the model observes this graph's schema (a graph
        model observes every graph the same way)."""
        want = graph_observation_schema() if self.is_graph else observation_schema(graph)
        check_schema(self.manifest, want, self.source)

    def reset(self, ctx: PolicyContext) -> None:
        self.check_graph(ctx.graph)
        fctx = FeatureContext(ctx.graph, ctx.slo, ctx.tick_seconds, ctx.history_rps,
                              ctx.calendar)
        self._encoder = GraphFeatureEncoder(fctx) if self.is_graph else FeatureEncoder(fctx)

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """The observation as the network saw it in training (VecNormalize's statistics; for a
        graph model, per feature of a service row and of the app row)."""
        x: np.ndarray = np.clip((features - self._mean) / self._std, -self._clip, self._clip)
        return x.astype(np.float32)

    def act(self, features: np.ndarray | GraphFeatures) -> np.ndarray:
        """Deterministic action (log2 multipliers) for one encoded observation."""
        with _blas().limit(limits=1, user_api="blas"):
            if isinstance(features, GraphFeatures):
                assert isinstance(self.actor, GraphActor)
                k = features.services.shape[1]
                services = self.normalize(np.concatenate(
                    [features.services, np.broadcast_to(features.app, (len(features.services),
                                                                       len(features.app)))],
                    axis=1))
                raw = self.actor(services[:, :k], services[0, k:], features.callers)
            else:
                assert isinstance(self.actor, Actor)
                raw = self.actor(self.normalize(features))
        action: np.ndarray = np.clip(raw, -1.0, 1.0)
        return action

    def decide(self, obs: Observation) -> np.ndarray:
        if self._encoder is None:
            raise RuntimeError("RLPolicy.decide called before reset(ctx)")
        features, base = self._encoder.encode(obs)
        growth = self._encoder.forecast.surprise_growth
        return action_to_desired(base, self.act(features), growth)

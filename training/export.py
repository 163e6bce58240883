"""Export a trained SB3 policy (see scaler/learned/manifest.py for the layout). Adapter: SB3.

`export(...)` writes `model.zip` and `vecnormalize.pkl` (SB3's own, to continue training), the
runtime's pickle-free files, `actor.npz` (the deterministic actor's weights copied out of the
torch module) and `obs_norm.npz`, then `manifest.json`, and signs it when given a key.
`convert(directory)` adds `actor.npz` to an export of manifest format 1 (weights only in
`model.zip`): it loads `model.zip` with SB3, which unpickles, so only for exports you trust; the
shipped default policy was converted this way, without retraining.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.vec_env import VecNormalize

from scaler.learned.actor import Activation, Actor, save_actor
from scaler.learned.manifest import FORMAT, Manifest, read_manifest, write_manifest
from scaler.learned.signature import sign_export
from training.errors import ExportError
from training.graph_export import write_graph_runtime_files
from training.graph_policy import GraphActorCriticPolicy

ACTIVATIONS: dict[type[torch.nn.Module], Activation] = {
    torch.nn.Tanh: Activation.TANH, torch.nn.ReLU: Activation.RELU}


def actor_of(model: BaseAlgorithm, source: str) -> Actor:
    """The deterministic actor (weight.T, bias, activation per linear layer) of a PPO model."""
    policy: Any = model.policy
    if not isinstance(policy.pi_features_extractor, FlattenExtractor):
        raise ExportError(f"model {source!r}: features extractor "
                          f"{type(policy.pi_features_extractor).__name__} is not supported")
    layers: list[tuple[np.ndarray, np.ndarray, Activation]] = []
    pending = False  # the last linear layer has no activation yet
    for module in [*policy.mlp_extractor.policy_net, policy.action_net]:
        if isinstance(module, torch.nn.Linear):
            layers.append((module.weight.detach().numpy().T.copy(),
                           module.bias.detach().numpy().copy(), Activation.IDENTITY))
            pending = True
        elif type(module) in ACTIVATIONS and pending:
            w, b, _ = layers[-1]
            layers[-1] = (w, b, ACTIVATIONS[type(module)])
            pending = False
        else:
            raise ExportError(f"model {source!r}: actor layer {module!r} is not supported")
    return Actor(tuple(layers))


def write_runtime_files(model: BaseAlgorithm, norm: VecNormalize, directory: Path) -> Actor:
    actor = actor_of(model, str(directory))
    save_actor(actor, directory)
    rms = norm.obs_rms
    assert isinstance(rms, RunningMeanStd)
    np.savez(directory / "obs_norm.npz", mean=rms.mean, var=rms.var,
             clip_obs=np.array(norm.clip_obs))
    return actor


def export(model: BaseAlgorithm, directory: Path, manifest: Manifest,
           signing_key: Ed25519PrivateKey | None = None) -> Path:
    """Write every file of the export and its manifest (signed with `signing_key`)."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "model.zip")
    norm = model.get_vec_normalize_env()
    assert norm is not None
    norm.save(str(directory / "vecnormalize.pkl"))
    if isinstance(model.policy, GraphActorCriticPolicy):
        spec = write_graph_runtime_files(model, directory).to_json()
    else:
        spec = write_runtime_files(model, norm, directory).spec.to_json()
    write_manifest(replace(manifest, actor=spec), directory)
    if signing_key is not None:
        sign_export(directory, signing_key)
    return directory


def convert(directory: Path) -> Path:
    """Add `actor.npz` (from `model.zip`, loaded with SB3: it unpickles) to a format-1 export
    and rewrite its manifest as format 2; the other files are unchanged."""
    raw = json.loads((directory / "manifest.json").read_text())
    if raw.get("format") != 1:
        raise ExportError(f"model {str(directory)!r}: manifest format {raw.get('format')!r}, "
                          "not 1: nothing to convert")
    model = PPO.load(directory / "model.zip", device="cpu")
    actor = actor_of(model, str(directory))
    save_actor(actor, directory)
    manifest = replace(read_manifest(directory), format=FORMAT, actor=actor.spec.to_json())
    write_manifest(manifest, directory)
    (directory / "manifest.sig").unlink(missing_ok=True)  # it signed the old manifest
    return directory

"""`manifest.json` of an exported policy: what it was trained on and for, and how to check it.

An export is a directory holding what the runtime loads, `actor.npz` (the deterministic actor's
weights, scaler/learned/actor.py) and `obs_norm.npz` (the observation statistics), both plain
arrays read with `allow_pickle=False`; what only stable-baselines3 reads, `model.zip`
(`model.save`) and `vecnormalize.pkl` (VecNormalize), kept to continue training from the export
in SB3 (both unpickle when loaded); `manifest.json`; and, when signed, `manifest.sig`
(scaler/learned/signature.py):

- `format`: this manifest layout's version; `env_id`, `env_version`: the env the model acts in;
- `observation_schema`: [{name, unit}] in order; `action_space`: low, high, shape and meaning;
- `actor`: the architecture (layer sizes and activations) of `actor.npz`;
- `training`: scenarios, seeds, timesteps, minutes, the config; `code_version`;
- `evaluation`: figures at export; `files`: sha256 of every file above.

Pure: no torch here; `check_manifest` is what every loader calls first. The runtime never opens
`model.zip` or `vecnormalize.pkl` (they unpickle); it only checks their checksums when present.

Compatibility: a model of another env version is refused, except the versions listed in
`COMPATIBLE_ENV_VERSIONS`, whose observations and actions are the current env's (the observation
schema is still checked against the graph when the policy starts) and only the twin they were
trained in, or how their action maps to replicas, differs. Such a model loads, with a warning on
the `edgewise.model` logger naming the version and what changed, and `Manifest.compatibility`
saying the same. Its manifest is left as trained (it is the record of what the model was
trained on).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envs.action import ENV_ID, ENV_VERSION
from scaler.errors import ManifestMismatchError, ModelCorruptError, SchemaMismatchError

FORMAT = 2  # 2: actor.npz and the manifest's `actor`; 1 had only SB3's zip for the weights
RUNTIME_FILES = ("actor.npz", "obs_norm.npz")  # what the runtime reads: plain arrays
TRAINING_FILES = ("model.zip", "vecnormalize.pkl")  # SB3's, read only by training (pickle)
FILES = RUNTIME_FILES + TRAINING_FILES
log = logging.getLogger("edgewise.model")

# Older env versions whose models still run: same observation schema and action space as
# ENV_VERSION, trained on an older twin or an older action mapping. Version -> (its env id,
# what differs).
NO_TRIM_OFF_FORECAST = ("since v4 the action does not trim below the base while demand is more "
                    "than 10% off the forecast over 15 ticks, either way; a model trained "
                    "before learned to trim there, and runs with that trim withheld")
COMPATIBLE_ENV_VERSIONS: dict[int, tuple[str, str]] = {
    2: ("edgewise/Autoscale-v2",
        "trained on the twin before issue 15 (a busy pod used 90% of its CPU request, latency was "
        "clamped at utilisation 0.98, one gamma per branching path); the observations and "
        "actions are the current env's, so it runs, but its headroom was learned on the old "
        f"dynamics ({NO_TRIM_OFF_FORECAST}): retrain with `edgewise train` for the new twin"),
    3: ("edgewise/Autoscale-v3",
        f"{NO_TRIM_OFF_FORECAST}: retrain with `edgewise train` to fit the current action"),
}


@dataclass(frozen=True)
class Manifest:
    env_id: str
    env_version: int
    observation_schema: list[dict[str, str]]
    action_space: dict[str, Any]
    graph: str
    services: list[str]
    training: dict[str, Any]
    code_version: str
    actor: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(manifest: Manifest, out: Path) -> None:
    files = {name: sha256(out / name) for name in FILES if (out / name).is_file()}
    data = asdict(manifest) | {"files": files}
    (out / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")


def read_manifest(directory: Path) -> Manifest:
    path = directory / "manifest.json"
    try:
        raw = json.loads(path.read_text())
        return Manifest(**raw)
    except FileNotFoundError:
        raise ModelCorruptError(f"model {str(directory)!r}: no manifest.json (export the model "
                                "with `edgewise train`)") from None
    except (OSError, ValueError, TypeError) as e:
        raise ModelCorruptError(f"model {str(directory)!r}: manifest.json is unreadable ({e}); "
                                "re-export the model") from e


def check_manifest(directory: Path, schema: list[dict[str, str]] | None = None) -> Manifest:
    """The manifest, after checking format, env id and version, file checksums and (if given)
    the observation schema; raises a `ModelError` subclass naming the fix otherwise."""
    m = read_manifest(directory)
    if m.format == 1 and m.env_id == ENV_ID and m.env_version == ENV_VERSION:
        raise ManifestMismatchError(
            f"model {str(directory)!r} predates the pickle-free weight file (manifest format 1, "
            "weights only in model.zip): convert it with `edgewise model convert --model DIR` "
            "if you trust where it came from (that loads model.zip), or retrain")
    older = COMPATIBLE_ENV_VERSIONS.get(m.env_version)
    compatible = older is not None and m.env_id == older[0] and m.format == FORMAT
    if not compatible and (m.format != FORMAT or m.env_id != ENV_ID
                           or m.env_version != ENV_VERSION):
        raise ManifestMismatchError(
            f"model {str(directory)!r} is for {m.env_id} version {m.env_version} (manifest format "
            f"{m.format}); this code runs {ENV_ID} version {ENV_VERSION}: retrain with "
            "`edgewise train`")
    for name in FILES:
        f = directory / name
        if not f.is_file():
            if name in TRAINING_FILES:
                continue  # training-only: a runtime copy of an export may leave it out
            raise ModelCorruptError(f"model {str(directory)!r}: {name} is missing; re-export")
        if m.files.get(name) != sha256(f):
            raise ModelCorruptError(f"model {str(directory)!r}: {name} does not match its "
                                    "checksum in manifest.json (corrupt or edited); re-export")
    if schema is not None:
        check_schema(m, schema, str(directory))
    if compatible and older is not None:
        log.warning("model %r is for %s version %d, loaded as compatible with version %d: %s",
                    str(directory), m.env_id, m.env_version, ENV_VERSION, older[1])
    return m


def compatibility(m: Manifest) -> str | None:
    """None for a model of this env version; else why an older one still runs here."""
    older = COMPATIBLE_ENV_VERSIONS.get(m.env_version)
    return None if m.env_version == ENV_VERSION or older is None else older[1]


def check_schema(m: Manifest, schema: list[dict[str, str]], where: str) -> None:
    if m.observation_schema == schema:
        return
    have = [d.get("name") for d in m.observation_schema]
    want = [d["name"] for d in schema]
    diff = next((f"{a!r} vs {b!r}" for a, b in zip(have, want, strict=False) if a != b),
                f"{len(have)} vs {len(want)} features")
    raise SchemaMismatchError(
        f"model {where!r}: observation schema differs from this code's for graph "
        f"{m.graph!r} (first difference: model {diff}); retrain for this graph and code")

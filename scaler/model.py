"""Loading a trained policy (`policy.type: rl`): a zip with `manifest.json` beside the weights.

The RL policy itself (training/) is a separate piece of work; until it lands, a model that loads
still needs stable-baselines3 in the controller's environment. Every failure is a
`ModelLoadError` whose message names the file and what is wrong, so the controller can fall back
to the reactive rule and say why in its Fallback condition.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scaler.errors import ModelLoadError

SUPPORTED_ENV_IDS = ("edgewise/Autoscale-v0",)


@dataclass(frozen=True)
class ModelManifest:
    env_id: str
    services: tuple[str, ...]
    path: Path


def read_manifest(path: Path) -> ModelManifest:
    if not path.is_file():
        raise ModelLoadError(f"model {str(path)!r}: file not found")
    try:
        with zipfile.ZipFile(path) as z:
            raw = json.loads(z.read("manifest.json"))
    except zipfile.BadZipFile:
        raise ModelLoadError(f"model {str(path)!r}: not a zip archive (corrupt?)") from None
    except KeyError:
        raise ModelLoadError(f"model {str(path)!r}: no manifest.json in the archive") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"model {str(path)!r}: manifest.json is not JSON ({e})") from e
    env_id = str(raw.get("env_id", "")) if isinstance(raw, dict) else ""
    if env_id not in SUPPORTED_ENV_IDS:
        raise ModelLoadError(f"model {str(path)!r}: env_id {env_id!r} is not one of "
                             f"{', '.join(SUPPORTED_ENV_IDS)}")
    services = tuple(str(s) for s in raw.get("services", []))
    return ModelManifest(env_id, services, path)


def check_loadable(path: Path, services: tuple[str, ...]) -> ModelManifest:
    """Validate the archive against the graph; raise ModelLoadError if it cannot drive it."""
    manifest = read_manifest(path)
    if manifest.services and manifest.services != services:
        raise ModelLoadError(f"model {str(path)!r}: trained for services "
                             f"{', '.join(manifest.services)}, the graph has {', '.join(services)}")
    try:
        import stable_baselines3  # noqa: F401  (the RL runtime, optional)
    except ImportError:
        raise ModelLoadError(f"model {str(path)!r}: stable-baselines3 is not installed in the "
                             "controller; install the 'rl' extra") from None
    raise ModelLoadError(f"model {str(path)!r}: RL inference is not wired into the controller "
                         "yet (training/ has no exported policy format)")

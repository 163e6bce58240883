"""Reproduce the default policy shipped in scaler/learned/default-policy.

    edgewise train --config training/data/default-train.yaml --out DIR --install-default

trains with the shipped config (seeded) into DIR and copies the export into the package. Needs
the `ml` extra.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from scaler.learned.runtime import default_model_dir

DEFAULT_CONFIG = Path(__file__).resolve().parent / "data" / "default-train.yaml"


def install_default(exported: Path) -> Path:
    """Copy an export into the package as its default policy; return where it went."""
    target = default_model_dir()
    target.mkdir(parents=True, exist_ok=True)
    for f in exported.iterdir():
        shutil.copy2(f, target / f.name)
    return target

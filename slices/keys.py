"""Site key pairs: made on the site, private half written 0600 there and nowhere else.

Only `public_key` strings leave this module. The private key exists in memory just long enough
to be written to the key file; WireGuard reads it from that file (`wg set ... private-key PATH`).
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from slices.errors import KeyMaterialError

KEY_DIR = "keys"


@dataclass(frozen=True)
class KeyRef:
    """Where a site's key for one slice generation lives, and its public half."""

    path: Path
    public_key: str


def key_path(state_dir: Path, slice_name: str, generation: int) -> Path:
    return state_dir / KEY_DIR / f"{slice_name}.{generation}.key"


def _encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _public_of(private: X25519PrivateKey) -> str:
    return _encode(private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def generate(state_dir: Path, slice_name: str, generation: int) -> KeyRef:
    """Create a new key file (0600, refusing to overwrite) and return its public key."""
    path = key_path(state_dir, slice_name, generation)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = X25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyMaterialError(f"key file {path} already exists: remove it to re-key") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(_encode(raw) + "\n")
    return KeyRef(path, _public_of(private))


def load(state_dir: Path, slice_name: str, generation: int) -> KeyRef:
    """The key file for a generation, checked to be 0600, with its public key derived."""
    path = key_path(state_dir, slice_name, generation)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text().strip()
    except OSError as exc:
        raise KeyMaterialError(f"key file {path} unreadable: re-join the slice") from exc
    if mode & 0o077:
        raise KeyMaterialError(f"key file {path} has mode {mode:o}: chmod 600 it")
    try:
        private = X25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise KeyMaterialError(f"key file {path} does not hold a WireGuard key") from exc
    return KeyRef(path, _public_of(private))


def remove_older(state_dir: Path, slice_name: str, oldest_kept: int | None) -> None:
    """Delete this slice's key files below generation `oldest_kept` (all of them for None)."""
    directory = state_dir / KEY_DIR
    if not directory.is_dir():
        return
    for path in directory.glob(f"{slice_name}.*.key"):
        generation = path.name[len(slice_name) + 1 : -len(".key")]
        if generation.isdigit() and (oldest_kept is None or int(generation) < oldest_kept):
            path.unlink()

"""Site key pairs: made on the site, private half written 0600 there and nowhere else.

Only `public_key` strings leave this module. The private key exists in memory just long enough
to be written to the key file; WireGuard reads it from that file (`wg set ... private-key PATH`).
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from slices.errors import KeyMaterialError

KEY_DIR = "keys"
log = logging.getLogger(__name__)


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


def key_dir(state_dir: Path, *, create: bool) -> Path:
    """The site's key directory, checked: a real directory (never a symlink someone could point
    elsewhere), owned by this user, mode 0700 (looser modes are tightened, and said so)."""
    directory = state_dir / KEY_DIR
    if directory.is_symlink():
        raise KeyMaterialError(f"key directory {directory} is a symlink: refusing to follow it; "
                               "make it a real directory owned by this user")
    if create:  # two joins of one site may create it at once: whoever is second finds it
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    try:
        st = directory.lstat()
    except FileNotFoundError:
        raise KeyMaterialError(f"key directory {directory} does not exist: join the slice "
                               "first") from None
    if not stat.S_ISDIR(st.st_mode):
        raise KeyMaterialError(f"key directory {directory} is not a directory")
    if st.st_uid != os.geteuid():
        raise KeyMaterialError(f"key directory {directory} is owned by uid {st.st_uid}, not "
                               f"this user ({os.geteuid()}): chown it or use another --state-dir")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        os.chmod(directory, 0o700)
        log.warning("key directory %s had mode %o; tightened to 700", directory, mode)
    return directory


def generate(state_dir: Path, slice_name: str, generation: int) -> KeyRef:
    """Create a new key file (0600, refusing to overwrite) and return its public key."""
    key_dir(state_dir, create=True)
    path = key_path(state_dir, slice_name, generation)
    private = X25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError as exc:
        raise KeyMaterialError(f"key file {path} already exists: remove it to re-key") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(_encode(raw) + "\n")
    return KeyRef(path, _public_of(private))


def load(state_dir: Path, slice_name: str, generation: int) -> KeyRef:
    """The key file for a generation, checked (a regular file, not a symlink, owned by this
    user, mode 0600), with its public key derived."""
    key_dir(state_dir, create=False)
    path = key_path(state_dir, slice_name, generation)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        what = "is a symlink" if path.is_symlink() else "unreadable"
        raise KeyMaterialError(f"key file {path} {what}: re-join the slice") from exc
    with os.fdopen(fd) as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise KeyMaterialError(f"key file {path} is not a regular file")
        if st.st_uid != os.geteuid():
            raise KeyMaterialError(f"key file {path} is owned by uid {st.st_uid}, not this "
                                   f"user ({os.geteuid()}): refusing a key someone else made")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyMaterialError(f"key file {path} has mode {mode:o}: chmod 600 it")
        text = handle.read().strip()
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

"""Ed25519 signatures over an export's `manifest.json` (which holds the sha256 of every file).

`manifest.sig` is JSON: `{"algorithm": "ed25519", "key_id": ..., "signature": base64}`, the
signature over the exact bytes of `manifest.json`. `key_id` (sha256 of the raw public key, first
16 hex digits) only helps error messages: verification tries every trusted key. Keys are PEM:
PKCS#8 private keys (written mode 0600), SubjectPublicKeyInfo public keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scaler.errors import KeyFileError, SignatureMismatchError, UnsignedModelError

SIGNATURE_FILE = "manifest.sig"
ALGORITHM = "ed25519"

TrustedKeys = tuple[Ed25519PublicKey, ...]


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"ed25519:{hashlib.sha256(raw).hexdigest()[:16]}"


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def write_keypair(private_path: Path, public_path: Path, *, force: bool = False) -> str:
    """A new key pair; the private key file is created mode 0600. Returns the key id."""
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise KeyFileError(f"{str(path)!r} exists: choose another name or pass --force")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    private_path.unlink(missing_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_bytes(public_pem(key.public_key()))
    return key_id(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as e:
        raise KeyFileError(f"signing key {str(path)!r}: {e.strerror or e}") from None
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"signing key {str(path)!r} is not an unencrypted PEM private key "
                           f"({e}); make one with `edgewise model keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"signing key {str(path)!r} is a {type(key).__name__}, not Ed25519; "
                           "make one with `edgewise model keygen`")
    return key


def parse_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{where} is not a PEM public key ({e})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{where} is a {type(key).__name__}, not an Ed25519 public key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        pem = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"trusted key {str(path)!r}: {e.strerror or e}") from None
    return parse_public_key(pem, f"trusted key {str(path)!r}")


def sign_export(directory: Path, key: Ed25519PrivateKey) -> str:
    """Write `manifest.sig` for `directory/manifest.json`; returns the signing key's id."""
    signature = key.sign((directory / "manifest.json").read_bytes())
    kid = key_id(key.public_key())
    record = {"algorithm": ALGORITHM, "key_id": kid,
              "signature": base64.b64encode(signature).decode()}
    (directory / SIGNATURE_FILE).write_text(json.dumps(record) + "\n")
    return kid


def verify_export(directory: Path, trusted: Sequence[Ed25519PublicKey], where: str) -> str:
    """The id of the trusted key that signed `manifest.json`; raises UnsignedModelError (no or
    unreadable signature) or SignatureMismatchError (no trusted key made it)."""
    names = ", ".join(key_id(k) for k in trusted)
    try:
        record = json.loads((directory / SIGNATURE_FILE).read_text())
        signature = base64.b64decode(record["signature"], validate=True)
        claimed = str(record.get("key_id", "?"))
        if record.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm {record.get('algorithm')!r} is not {ALGORITHM}")
    except FileNotFoundError:
        raise UnsignedModelError(f"model {where!r} is not signed (no {SIGNATURE_FILE}) and a "
                                 f"trusted key is configured ({names}): sign it with `edgewise "
                                 "model sign`") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise UnsignedModelError(f"model {where!r}: {SIGNATURE_FILE} is unreadable ({e}); "
                                 "sign it again with `edgewise model sign`") from None
    try:
        manifest = (directory / "manifest.json").read_bytes()
    except OSError as e:
        raise UnsignedModelError(f"model {where!r}: manifest.json unreadable ({e})") from None
    for key in trusted:
        try:
            key.verify(signature, manifest)
        except InvalidSignature:
            continue
        return key_id(key)
    raise SignatureMismatchError(
        f"model {where!r}: the signature of manifest.json (claims key {claimed}) does not verify "
        f"with any trusted key ({names}): the manifest was changed after signing, or another key "
        "signed it")

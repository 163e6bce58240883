"""`edgewise model keygen | sign | verify | convert`: signing keys and exports.

keygen writes an Ed25519 key pair (the private key mode 0600); sign writes an export's
`manifest.sig` (refused if one exists, unless --force); verify checks checksums and the signature
as the controller and `edgewise evaluate --trusted-key` do; convert adds the pickle-free weight
file to an export of manifest format 1 (it loads model.zip with stable-baselines3, which
unpickles: only for exports you trust; needs the ml extra).
Exit codes: 0 done, 2 bad input (one line on stderr naming it).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edgewise.exits import Exit, fail
from scaler.errors import ModelError, ScalerError
from training.errors import TrainingError


def _fail(message: str) -> int:
    return fail("edgewise model", message)


def cmd_keygen(args: argparse.Namespace) -> int:
    from scaler.learned.signature import write_keypair

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _fail(f"--out {args.out!r} is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / f"{args.name}.key", out / f"{args.name}.pub"
    try:
        kid = write_keypair(private, public, force=args.force)
    except ScalerError as e:
        return _fail(str(e))
    print(f"key {kid}: private {private} (mode 0600: keep it where you train), public {public} "
          "(give it to the controller and `evaluate --trusted-key`)")
    return Exit.OK


def cmd_sign(args: argparse.Namespace) -> int:
    from scaler.learned.manifest import check_manifest
    from scaler.learned.signature import SIGNATURE_FILE, load_private_key, sign_export

    directory = Path(args.model)
    try:
        key = load_private_key(Path(args.signing_key))
        if not directory.is_dir():
            return _fail(f"--model {args.model!r} is not an export directory")
        if (directory / SIGNATURE_FILE).exists() and not args.force:
            return _fail(f"model {args.model!r} is signed already ({SIGNATURE_FILE}); pass "
                         "--force to sign it again")
        check_manifest(directory)  # sign only what passes its own checks
        kid = sign_export(directory, key)
    except ScalerError as e:
        return _fail(str(e))
    print(f"signed {directory / 'manifest.json'} with key {kid}")
    return Exit.OK


def cmd_verify(args: argparse.Namespace) -> int:
    from scaler.learned.runtime import RLPolicy
    from scaler.learned.signature import load_public_key

    try:
        keys = tuple(load_public_key(Path(p)) for p in args.trusted_key)
        policy = RLPolicy.load(args.model, trusted_keys=keys)
    except ScalerError as e:
        return _fail(str(e))
    print(f"model {policy.source!r}: checksums match, signed by trusted key {policy.signed_by}")
    return Exit.OK


def cmd_convert(args: argparse.Namespace) -> int:
    from edgewise.train_cmd import ML_HINT, ml_available

    if not ml_available():
        return _fail(f"convert {ML_HINT}")
    from training.export import convert

    try:
        directory = convert(Path(args.model))
    except (OSError, ValueError) as e:
        return _fail(f"model {args.model!r}: cannot convert ({e})")
    except (TrainingError, ModelError) as e:
        return _fail(str(e))
    print(f"model {directory}: actor.npz written, manifest.json is format 2 (sign it again if "
          "it was signed)")
    return Exit.OK


def add_parser(subparsers: Any) -> None:
    model = subparsers.add_parser(
        "model", help="signing keys and policy exports (keygen, sign, verify, convert)",
        description="Sign policy exports and check them as the controller does. See "
        "docs/security.md (Model files).")
    sub = model.add_subparsers(dest="model_command", required=True)
    keygen = sub.add_parser("keygen", help="write an Ed25519 signing key pair",
                            description="Write OUT/NAME.key (private, mode 0600) and OUT/NAME.pub "
                            "(public). Existing files are refused unless --force.")
    keygen.add_argument("--out", required=True, help="directory for the two key files")
    keygen.add_argument("--name", default="edgewise-model", help="file name stem")
    keygen.add_argument("--force", action="store_true", help="replace existing key files")
    keygen.set_defaults(func=cmd_keygen)
    sign = sub.add_parser("sign", help="sign an export's manifest",
                          description="Write DIR/manifest.sig: an Ed25519 signature over "
                          "manifest.json (which holds the sha256 of every file). Writes only "
                          "that file; an existing one is refused unless --force.")
    sign.add_argument("--model", required=True, help="export directory")
    sign.add_argument("--signing-key", required=True, help="PEM private key (model keygen)")
    sign.add_argument("--force", action="store_true", help="replace an existing signature")
    sign.set_defaults(func=cmd_sign)
    verify = sub.add_parser("verify", help="check an export's signature and checksums",
                            description="Load the export as the controller does, requiring a "
                            "signature by one of the trusted keys. Exit 2 if it fails.")
    verify.add_argument("--model", required=True, help="export directory, or `default`")
    verify.add_argument("--trusted-key", required=True, action="append",
                        help="PEM public key (repeat for several)")
    verify.set_defaults(func=cmd_verify)
    conv = sub.add_parser("convert", help="add the pickle-free weights to an old export",
                          description="For an export of manifest format 1: write actor.npz from "
                          "model.zip and rewrite manifest.json (drops a now stale manifest.sig). "
                          "Loads model.zip with stable-baselines3, which UNPICKLES it: only for "
                          "exports you trust. Needs the ml extra.")
    conv.add_argument("--model", required=True, help="export directory")
    conv.set_defaults(func=cmd_convert)

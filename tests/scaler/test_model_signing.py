"""Signed exports: with a trusted key configured, an unsigned, tampered or otherwise-signed model
is refused (RLPolicy.load, `edgewise evaluate --trusted-key`, `edgewise model verify`, the
controller's loader with --trusted-model-key and spec.policy.model.trustedPublicKey); a good
signature is accepted. No ml extra needed: the runtime is numpy only."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from controller.assembly import assemble
from controller.spec import parse_spec
from edgewise.cli import main
from envs.graph import load_graph
from scaler.errors import (
    InvalidSpecError,
    KeyFileError,
    ModelCorruptError,
    SignatureMismatchError,
    UnsignedModelError,
)
from scaler.learned.runtime import RLPolicy, default_model_dir
from scaler.learned.signature import (
    key_id,
    load_private_key,
    load_public_key,
    sign_export,
    write_keypair,
)

START = datetime(2026, 11, 27)
TINY_SCENARIO = "name: tiny\ngraph: boutique\nstart: 2026-10-05T00:00:00\nduration: 1h\n"


def _keys(directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    write_keypair(private, public)
    return private, public


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    return {"good": _keys(tmp_path / "keys", "good"), "other": _keys(tmp_path / "keys", "other")}


def _copy(tmp_path: Path, name: str = "m") -> Path:
    return Path(shutil.copytree(default_model_dir(), tmp_path / name))


@pytest.fixture
def signed(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> Path:
    export = _copy(tmp_path, "signed")
    sign_export(export, load_private_key(keys["good"][0]))
    return export


def _pub(keys: dict[str, tuple[Path, Path]], name: str) -> tuple[object, ...]:
    return (load_public_key(keys[name][1]),)


def test_good_signature_is_accepted(signed: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    trusted = load_public_key(keys["good"][1])
    policy = RLPolicy.load(signed, trusted_keys=(load_public_key(keys["other"][1]), trusted))
    assert policy.signed_by == key_id(trusted)


def test_unsigned_refused_when_a_key_is_configured(tmp_path: Path,
                                                   keys: dict[str, tuple[Path, Path]]) -> None:
    export = _copy(tmp_path)
    assert RLPolicy.load(export).signed_by is None  # no key configured: loads as before
    with pytest.raises(UnsignedModelError, match=f"model '{export}' is not signed"):
        RLPolicy.load(export, trusted_keys=_pub(keys, "good"))  # type: ignore[arg-type]


def test_wrong_key_refused(signed: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    other = load_public_key(keys["other"][1])
    with pytest.raises(SignatureMismatchError, match=f"any trusted key \\({key_id(other)}"):
        RLPolicy.load(signed, trusted_keys=(other,))


def test_tampered_manifest_refused(signed: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    m = json.loads((signed / "manifest.json").read_text())
    m["evaluation"]["violation_minutes"] = -1.0
    (signed / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    with pytest.raises(SignatureMismatchError, match="changed after signing"):
        RLPolicy.load(signed, trusted_keys=_pub(keys, "good"))  # type: ignore[arg-type]


def test_swapped_weights_refused_with_or_without_new_checksums(
        signed: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    trusted = _pub(keys, "good")
    with np.load(signed / "actor.npz") as npz:
        arrays = {n: npz[n] for n in npz.files}
    name = next(n for n, a in arrays.items() if a.dtype == np.float32)  # any weight array
    arrays[name] = arrays[name] + np.float32(1.0)
    np.savez(signed / "actor.npz", **arrays)
    with pytest.raises(ModelCorruptError, match="actor.npz does not match its checksum"):
        RLPolicy.load(signed, trusted_keys=trusted)  # type: ignore[arg-type]
    m = json.loads((signed / "manifest.json").read_text())
    m["files"]["actor.npz"] = hashlib.sha256((signed / "actor.npz").read_bytes()).hexdigest()
    (signed / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    with pytest.raises(SignatureMismatchError):
        RLPolicy.load(signed, trusted_keys=trusted)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "{", '{"algorithm": "rsa", "signature": ""}',
                                  '{"algorithm": "ed25519", "signature": "!!"}'])
def test_unreadable_signature_refused(signed: Path, keys: dict[str, tuple[Path, Path]],
                                      text: str) -> None:
    (signed / "manifest.sig").write_text(text)
    with pytest.raises(UnsignedModelError, match="manifest.sig is unreadable"):
        RLPolicy.load(signed, trusted_keys=_pub(keys, "good"))  # type: ignore[arg-type]


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    assert main(["model", "keygen", "--out", str(tmp_path / "k")]) == 0
    private = tmp_path / "k" / "edgewise-model.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    load_private_key(private)
    load_public_key(tmp_path / "k" / "edgewise-model.pub")
    before = private.read_bytes()
    assert main(["model", "keygen", "--out", str(tmp_path / "k")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--force" in err
    assert private.read_bytes() == before  # nothing replaced


@pytest.mark.parametrize(("content", "needle"), [
    (None, "No such file"), (b"not a key", "not an unencrypted PEM private key")])
def test_bad_signing_key_is_one_line(tmp_path: Path, content: bytes | None, needle: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k.pem"
    if content is not None:
        key.write_bytes(content)
    code = main(["model", "sign", "--model", str(_copy(tmp_path)), "--signing-key", str(key)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    with pytest.raises(KeyFileError):
        load_private_key(key)


def test_sign_verify_and_evaluate_commands(tmp_path: Path, keys: dict[str, tuple[Path, Path]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    export = _copy(tmp_path)
    good, other = str(keys["good"][1]), str(keys["other"][1])
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY_SCENARIO)
    evaluate = ["evaluate", "--model", str(export), "--scenario", str(scenario), "--policies",
                "rl-raw", "--out", str(tmp_path / "out")]
    assert main([*evaluate, "--trusted-key", good]) == 2
    assert "is not signed" in capsys.readouterr().err
    assert main(["model", "sign", "--model", str(export), "--signing-key",
                 str(keys["good"][0])]) == 0
    assert main(["model", "sign", "--model", str(export), "--signing-key",
                 str(keys["good"][0])]) == 2  # signed already: refused without --force
    assert "--force" in capsys.readouterr().err
    assert main(["model", "verify", "--model", str(export), "--trusted-key", other]) == 2
    assert "does not verify" in capsys.readouterr().err
    assert main(["model", "verify", "--model", str(export), "--trusted-key", good]) == 0
    assert main([*evaluate, "--trusted-key", other]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(export) in err
    assert main([*evaluate, "--trusted-key", good]) == 0
    assert (tmp_path / "out" / "results.json").exists()


def _spec(path: Path | str, pinned: Path | None = None) -> object:
    model: dict[str, str] = {"path": str(path)}
    if pinned is not None:
        model["trustedPublicKey"] = pinned.read_text()
    graph = load_graph("boutique")
    return parse_spec({"targets": [{"name": s, "service": s} for s in graph.names],
                       "graph": {"inline": {"x": 1}}, "policy": {"type": "rl", "model": model}})


def _assemble(spec: object, operator: tuple[object, ...] = ()) -> tuple[str | None, str]:
    p = assemble(spec, load_graph("boutique"), START, trusted_keys=operator)  # type: ignore[arg-type]
    if p.unready is None:
        assert p.primary is not None
        return None, ""
    return p.unready.reason.value, p.unready.message


def test_controller_with_operator_key(tmp_path: Path, signed: Path,
                                      keys: dict[str, tuple[Path, Path]]) -> None:
    unsigned = _copy(tmp_path, "unsigned")
    good, other = _pub(keys, "good"), _pub(keys, "other")
    assert _assemble(_spec(unsigned)) == (None, "")  # no key anywhere: loads
    reason, message = _assemble(_spec(unsigned), good)
    assert reason == "ModelLoadFailed" and f"model '{unsigned}' is not signed" in message
    assert _assemble(_spec(signed), good) == (None, "")
    reason, message = _assemble(_spec(signed), other)
    assert reason == "ModelLoadFailed" and "does not verify" in message


def test_controller_with_a_key_pinned_in_the_spec(signed: Path,
                                                  keys: dict[str, tuple[Path, Path]]) -> None:
    good_pub, other_pub = keys["good"][1], keys["other"][1]
    assert _assemble(_spec(signed, pinned=good_pub)) == (None, "")
    reason, message = _assemble(_spec(signed, pinned=other_pub))
    assert reason == "ModelLoadFailed" and "does not verify" in message
    # the spec can narrow the operator's keys, never widen them
    both = _pub(keys, "good") + _pub(keys, "other")
    assert _assemble(_spec(signed, pinned=good_pub), both) == (None, "")
    reason, message = _assemble(_spec(signed, pinned=good_pub), _pub(keys, "other"))
    assert reason == "ModelLoadFailed" and "is not one of the controller's" in message


def test_a_spec_key_that_is_not_a_key_names_the_field() -> None:
    with pytest.raises(InvalidSpecError, match="spec.policy.model.*not a PEM public key"):
        parse_spec({"targets": [{"name": "web", "service": "web"}],
                    "graph": {"inline": {"x": 1}},
                    "policy": {"type": "rl", "model": {"path": "default",
                                                       "trustedPublicKey": "nope"}}})

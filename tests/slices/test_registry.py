"""Registry: survives restarts, serialises concurrent writers, stores public keys only."""

from __future__ import annotations

import argparse
import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from edgewise import slice_cmd as cli
from slices import keys
from slices.errors import AlreadyExistsError, RotationError, ValidationError
from slices.model import RotationPhase, TopologyKind
from slices.registry import Registry


def pub(n: int) -> str:
    return base64.b64encode(n.to_bytes(32, "big")).decode()


def test_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    Registry(db).create_slice("a", IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH)
    Registry(db).join("a", "s1", IPv4Address("192.0.2.1"), pub(1))
    slc = Registry(db).get_slice("a")
    assert [(m.site_id, str(m.overlay_ip), m.endpoint.port) for m in slc.members] == [
        ("s1", "10.10.0.1", 51820)]


def test_concurrent_joins_get_distinct_addresses(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    Registry(db).create_slice("a", IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH)

    def join(n: int) -> str:
        return str(Registry(db).join("a", f"s{n}", IPv4Address("192.0.2.1"), pub(n)).overlay_ip)

    with ThreadPoolExecutor(16) as pool:
        addresses = list(pool.map(join, range(40)))
    assert len(set(addresses)) == 40
    assert len(Registry(db).get_slice("a").members) == 40


def test_rejects_overlap_duplicate_and_bad_key(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.create_slice("a", IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH)
    with pytest.raises(AlreadyExistsError):
        reg.create_slice("b", IPv4Network("10.10.0.0/16"), TopologyKind.FULL_MESH)
    reg.join("a", "s1", IPv4Address("192.0.2.1"), pub(1))
    with pytest.raises(AlreadyExistsError):
        reg.join("a", "s1", IPv4Address("192.0.2.1"), pub(2))
    with pytest.raises(ValidationError):
        reg.join("a", "s2", IPv4Address("192.0.2.1"), "not-a-key")


def test_ports_differ_per_slice_on_one_site(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    for name, cidr in (("a", "10.10.0.0/24"), ("b", "10.20.0.0/24")):
        reg.create_slice(name, IPv4Network(cidr), TopologyKind.FULL_MESH)
    ports = {reg.join(n, "s1", IPv4Address("192.0.2.1"), pub(i)).endpoint.port
             for i, n in enumerate("ab")}
    assert ports == {51820, 51821}


def test_rotation_phases(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.create_slice("a", IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH)
    reg.join("a", "s1", IPv4Address("192.0.2.1"), pub(1))
    with pytest.raises(RotationError):
        reg.cut_over("a", "s1")
    assert reg.begin_rotation("a", "s1", pub(9)).phase is RotationPhase.PREPARED
    reg.switch("a", "s1")
    reg.cut_over("a", "s1")
    reg.finish_rotation("a", "s1")
    m = reg.get_member("a", "s1")
    assert (m.public_key, m.generation, m.next_public_key, m.phase) == (
        pub(9), 1, None, RotationPhase.NONE)


def test_key_file_is_0600_and_public_key_matches(tmp_path: Path) -> None:
    ref = keys.generate(tmp_path, "a", 0)
    assert stat.S_IMODE(ref.path.stat().st_mode) == 0o600
    assert keys.load(tmp_path, "a", 0).public_key == ref.public_key
    assert ref.path.read_text().strip() != ref.public_key


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edgewise")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.mark.parametrize("argv", [
    ["create", "a", "--cidr", "10.0.0.1/24"],
    ["create", "Bad_Name", "--cidr", "10.0.0.0/24"],
    ["create", "a", "--cidr", "10.0.0.0/24", "--topology", "hub-and-spoke"],
    ["join", "a", "--site", "s1", "--endpoint", "not-an-ip"],
    ["create", "a", "--cidr", "10.0.0.0/24", "--qos-mbit", "0"],
    ["admit", "a", "--site", "s1"],  # an administrator's command needs --hub-config
    ["export", "a", "--site", "s1", "--service", "Bad_Name", "--port", "80"],
])
def test_cli_bad_input_exits_2(tmp_path: Path, argv: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(["slice", "--registry", str(tmp_path / "r.db"), *argv[:2],
                    *argv[2:], *(["--state-dir", str(tmp_path)] if argv[0] == "join" else [])])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_cli_create_then_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.db")
    assert run_cli(["slice", "--registry", db, "create", "a", "--cidr", "10.10.0.0/24"]) == 0
    assert run_cli(["slice", "--registry", db, "join", "a", "--site", "s1", "--endpoint",
                    "192.0.2.1", "--state-dir", str(tmp_path / "s1"), "--no-apply"]) == 0
    assert run_cli(["slice", "--registry", db, "render", "a", "--site", "s1", "--state-dir",
                    str(tmp_path / "s1")]) == 0
    out = capsys.readouterr().out
    assert "ListenPort = 51820" in out
    secret = next((tmp_path / "s1").rglob("*.key")).read_text().strip()
    assert secret not in out
    assert secret.encode() not in (tmp_path / "r.db").read_bytes()

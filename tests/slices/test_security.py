"""Slices under attack or carelessness: registry content cannot inject into a rendered config,
key files and their directory are checked, overlays never take the host's routes, and `join` on
an already joined site loses no key."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from edgewise import cli
from slices import keys, render, topology
from slices.errors import KeyMaterialError, ValidationError
from slices.host_routes import host_routes, parse_route_table
from slices.ipam import check_not_host_route, parse_cidr
from slices.model import TopologyKind
from slices.registry import Registry

INJECTED = base64.b64encode(b"k" * 32).decode() + "\n[Interface]\nPostUp = touch /tmp/pwned"


def pub(n: int) -> str:
    return base64.b64encode(n.to_bytes(32, "big")).decode()


def two_sites(db: Path) -> Registry:
    reg = Registry(db)
    reg.create_slice("a", IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH)
    reg.join("a", "s1", IPv4Address("192.0.2.1"), pub(1))
    reg.join("a", "s2", IPv4Address("192.0.2.2"), pub(2))
    return reg


def tamper(db: Path, column: str, value: object, site: str = "s2") -> None:
    """What a party with write access to the registry (not through its API) can do."""
    with sqlite3.connect(db) as con:
        con.execute(f"UPDATE members SET {column} = ? WHERE site_id = ?", (value, site))


@pytest.mark.parametrize(("column", "value", "field"), [
    ("public_key", INJECTED, "public key"),
    ("next_public_key", INJECTED, "public key"),
    ("site_id", "s2\nPostUp = id", "site id"),
    ("host", "192.0.2.2\nPostUp = id", "192.0.2.2"),
    ("port", 0, "port"),
    ("overlay_ip", "10.99.0.1", "outside the slice"),
    ("generation", -1, "generation"),
])
def test_registry_content_is_revalidated_on_read(tmp_path: Path, column: str, value: object,
                                                 field: str) -> None:
    db = tmp_path / "r.db"
    two_sites(db)
    tamper(db, column, value)
    with pytest.raises(ValidationError, match=field) as e:
        Registry(db).get_slice("a")
    assert str(db) in str(e.value) and "\n" not in str(e.value).split("(")[0]


def test_an_injected_key_never_reaches_a_rendered_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    two_sites(db)
    state = tmp_path / "s1"
    keys.generate(state, "a", 0)
    tamper(db, "public_key", INJECTED)
    code = cli.main(["slice", "--registry", str(db), "render", "a", "--site", "s1",
                     "--state-dir", str(state)])
    captured = capsys.readouterr()
    assert code == 2
    assert "PostUp = touch" not in captured.out
    assert len(captured.err.strip().splitlines()) == 1 and "public key" in captured.err


def test_post_up_quotes_the_key_path(tmp_path: Path) -> None:
    reg = two_sites(tmp_path / "r.db")
    iface = topology.plan_site(reg.get_slice("a"), "s1").interfaces[0]
    text = render.render_config(iface, Path("/state dir/k;touch x.key"))
    assert "PostUp = wg set %i private-key '/state dir/k;touch x.key'" in text


def test_renderer_refuses_multiline_values(tmp_path: Path) -> None:
    reg = two_sites(tmp_path / "r.db")
    iface = topology.plan_site(reg.get_slice("a"), "s1").interfaces[0]
    with pytest.raises(ValidationError, match="one printable line"):
        render.render_config(iface, Path("/k\nPostUp = id"))


# -- private keys ---------------------------------------------------------------------------

def test_loose_key_directory_is_tightened(tmp_path: Path) -> None:
    (tmp_path / keys.KEY_DIR).mkdir(mode=0o755)
    os.chmod(tmp_path / keys.KEY_DIR, 0o755)
    keys.generate(tmp_path, "a", 0)
    assert stat.S_IMODE((tmp_path / keys.KEY_DIR).stat().st_mode) == 0o700


def test_key_directory_made_by_a_concurrent_join_is_used(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # the race two joins of one site ran into: the directory appears after the other join
    # looked for it and before it makes it
    (tmp_path / keys.KEY_DIR).mkdir(mode=0o700)
    monkeypatch.setattr(Path, "exists", lambda self: False)
    ref = keys.generate(tmp_path, "b", 0)
    assert ref.path.parent == tmp_path / keys.KEY_DIR and ref.path.is_file()


def test_symlinked_key_directory_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    state = tmp_path / "state"
    state.mkdir()
    (state / keys.KEY_DIR).symlink_to(elsewhere)
    with pytest.raises(KeyMaterialError, match="symlink"):
        keys.generate(state, "a", 0)
    assert list(elsewhere.iterdir()) == []


def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = keys.generate(tmp_path, "a", 0)
    link = keys.key_path(tmp_path, "a", 1)
    link.symlink_to(real.path)
    with pytest.raises(KeyMaterialError, match="symlink"):
        keys.load(tmp_path, "a", 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_key_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    ref = keys.generate(tmp_path, "a", 0)
    os.chown(ref.path, 65534, 65534)
    with pytest.raises(KeyMaterialError, match="owned by uid 65534"):
        keys.load(tmp_path, "a", 0)


# -- routes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("cidr", "message"), [
    ("0.0.0.0/0", "default route"),
    ("0.0.0.0/1", "too broad"),
    ("127.0.0.0/24", "loopback"),
])
def test_overlays_that_would_take_host_traffic_are_refused(cidr: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_cidr(cidr)


def test_route_table_parse_and_overlap() -> None:
    table = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
             "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
             "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    routes = parse_route_table(table)
    assert routes == (("eth0", IPv4Network("0.0.0.0/0")), ("eth0", IPv4Network("192.0.2.0/24")))
    check_not_host_route(IPv4Network("10.10.0.0/24"), routes)  # the default route is excluded
    with pytest.raises(ValidationError, match="overlaps the host's route 192.0.2.0/24 on eth0"):
        check_not_host_route(IPv4Network("192.0.2.0/25"), routes)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "host-route"])
def test_slice_create_refuses_host_routes(tmp_path: Path, cidr: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if cidr == "host-route":
        own = [n for _, n in host_routes() if n.prefixlen]
        if not own:
            pytest.skip("this namespace has no route but the default one")
        cidr = str(own[0])
    code = cli.main(["slice", "--registry", str(tmp_path / "r.db"), "create", "a", "--cidr", cidr])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "route" in err
    assert Registry(tmp_path / "r.db").slice_names() == ()


# -- join loses nothing ---------------------------------------------------------------------

def test_join_again_after_a_rotation_keeps_the_live_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, state = str(tmp_path / "r.db"), tmp_path / "s1"
    assert cli.main(["slice", "--registry", db, "create", "a", "--cidr", "10.10.0.0/24"]) == 0
    join = ["slice", "--registry", db, "join", "a", "--site", "s1", "--endpoint", "192.0.2.1",
            "--state-dir", str(state), "--no-apply"]
    assert cli.main(join) == 0
    live = keys.generate(state, "a", 1)  # a finished rotation: generation 1 live, 0 removed
    keys.remove_older(state, "a", 1)
    capsys.readouterr()
    assert cli.main(join) == 2
    err = capsys.readouterr().err
    assert "already joined" in err and len(err.strip().splitlines()) == 1
    assert live.path.exists() and keys.load(state, "a", 1).public_key == live.public_key
    assert not keys.key_path(state, "a", 0).exists()

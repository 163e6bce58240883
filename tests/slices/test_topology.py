"""Table-driven tests of the pure core: IPAM, topology, rendering (golden files), drift."""

from __future__ import annotations

import os
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from slices import drift, firewall, ipam, render, topology
from slices.errors import AddressExhaustedError, AlreadyExistsError, ValidationError
from slices.model import Endpoint, Member, RotationPhase, Slice, TopologyKind

GOLDEN = Path(__file__).parent / "golden"
KEYS = {s: f"{s.upper():A<43}=" for s in ("s1", "s2", "s3", "s4")}
NEXT = "N" * 43 + "="


def member(site: str, n: int, phase: RotationPhase = RotationPhase.NONE) -> Member:
    return Member(site, Endpoint(IPv4Address(f"192.0.2.{10 + n}"), 51820),
                  IPv4Address(f"10.10.0.{n}"), KEYS[site], 0,
                  NEXT if phase is not RotationPhase.NONE else None, phase)


def mesh(phase: RotationPhase = RotationPhase.NONE) -> Slice:
    return Slice("a", IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH, None,
                 (member("s1", 1), member("s2", 2, phase), member("s3", 3)))


def hub() -> Slice:
    return Slice("b", IPv4Network("10.10.0.0/24"), TopologyKind.HUB_AND_SPOKE, "s1",
                 (member("s1", 1), member("s2", 2), member("s4", 4)))


@pytest.mark.parametrize(("slc", "site", "expected"), [
    (mesh(), "s1", {("s2", "10.10.0.2/32"), ("s3", "10.10.0.3/32")}),
    (mesh(), "s3", {("s1", "10.10.0.1/32"), ("s2", "10.10.0.2/32")}),
    (hub(), "s1", {("s2", "10.10.0.2/32"), ("s4", "10.10.0.4/32")}),
    (hub(), "s2", {("s1", "10.10.0.0/24")}),
    (hub(), "s4", {("s1", "10.10.0.0/24")}),
])
def test_peers(slc: Slice, site: str, expected: set[tuple[str, str]]) -> None:
    got = {(p.site_id, ",".join(str(n) for n in p.allowed_ips))
           for p in topology.peers_for(slc, site)}
    assert got == expected


@pytest.mark.parametrize(("phase", "site", "expected"), [
    (RotationPhase.PREPARED, "s1", [(KEYS["s2"], "10.10.0.2/32", 51820), (NEXT, "", 52820)]),
    (RotationPhase.SWITCHED, "s1", [(KEYS["s2"], "10.10.0.2/32", 51820), (NEXT, "", 52820)]),
    (RotationPhase.CUTOVER, "s1", [(NEXT, "10.10.0.2/32", 52820), (KEYS["s2"], "", 51820)]),
])
def test_rotation_peers(phase: RotationPhase, site: str,
                        expected: list[tuple[str, str, int]]) -> None:
    peers = [p for p in topology.peers_for(mesh(phase), site) if p.site_id == "s2"]
    assert [(p.public_key, ",".join(map(str, p.allowed_ips)), p.endpoint.port)
            for p in peers] == expected


@pytest.mark.parametrize(("phase", "primary_gen", "ifaces"), [
    (RotationPhase.NONE, 0, 1), (RotationPhase.PREPARED, 0, 2),
    (RotationPhase.SWITCHED, 1, 2), (RotationPhase.CUTOVER, 1, 2),
])
def test_rotating_site_plan(phase: RotationPhase, primary_gen: int, ifaces: int) -> None:
    plan = topology.plan_site(mesh(phase), "s2")
    assert len(plan.interfaces) == ifaces
    assert plan.interfaces[0].generation == primary_gen and plan.interfaces[0].primary
    assert plan.interfaces[0].routes == (IPv4Network("10.10.0.0/24"),)
    assert all(not i.routes and i.reply_mark for i in plan.interfaces[1:])


def test_only_hub_forwards() -> None:
    plans = topology.plan_all(hub())
    assert {s: p.interfaces[0].forwarding for s, p in plans.items()} == {
        "s1": True, "s2": False, "s4": False}


@pytest.mark.parametrize(("slc", "site", "golden"), [
    (mesh(), "s1", "mesh_s1.conf"), (hub(), "s1", "hub_s1.conf"), (hub(), "s4", "hub_s4.conf"),
])
def test_render_golden(slc: Slice, site: str, golden: str) -> None:
    iface = topology.plan_site(slc, site).interfaces[0]
    text = render.render_config(iface, Path("/var/lib/edgewise/sites") / site / "keys/x.0.key")
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()
    assert "PrivateKey" not in text


def test_firewall_golden() -> None:
    text = firewall.render_ruleset(topology.plan_site(mesh(RotationPhase.SWITCHED), "s2"))
    path = GOLDEN / "mesh_s2_switched.nft"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize(("cidr", "used", "expected"), [
    ("10.0.0.0/30", [], "10.0.0.1"),
    ("10.0.0.0/30", ["10.0.0.1"], "10.0.0.2"),
    ("10.0.0.0/24", ["10.0.0.1", "10.0.0.3"], "10.0.0.2"),
])
def test_allocate(cidr: str, used: list[str], expected: str) -> None:
    assert str(ipam.allocate(IPv4Network(cidr), map(IPv4Address, used))) == expected


def test_allocate_exhausted() -> None:
    with pytest.raises(AddressExhaustedError):
        ipam.allocate(IPv4Network("10.0.0.0/30"), map(IPv4Address, ["10.0.0.1", "10.0.0.2"]))


@pytest.mark.parametrize(("cidr", "clash"), [
    ("10.10.0.0/24", True), ("10.10.0.128/25", True), ("10.0.0.0/8", True),
    ("10.11.0.0/24", False),
])
def test_overlap(cidr: str, clash: bool) -> None:
    existing = {"a": IPv4Network("10.10.0.0/24")}
    if clash:
        with pytest.raises(AlreadyExistsError, match="overlaps slice 'a'"):
            ipam.check_no_overlap(IPv4Network(cidr), existing)
    else:
        ipam.check_no_overlap(IPv4Network(cidr), existing)


@pytest.mark.parametrize("text", ["10.0.0.1/24", "nonsense", "10.0.0.0/31"])
def test_bad_cidr(text: str) -> None:
    with pytest.raises(ValidationError):
        ipam.parse_cidr(text)


def test_drift_empty_when_matching() -> None:
    iface = topology.plan_site(mesh(), "s1").interfaces[0]
    peers = {p.public_key: drift.ObservedPeer(p.public_key, str(p.endpoint),
                                              tuple(str(n) for n in p.allowed_ips), 1, 0, 0,
                                              p.keepalive_seconds) for p in iface.peers}
    seen = drift.ObservedInterface(iface.ifname, True, True, iface.public_key,
                                   iface.listen_port, peers, frozenset({"10.10.0.1/32"}),
                                   frozenset({"10.10.0.0/24"}))
    assert drift.diff(iface, seen, Path("k")) == ()
    missing = dict(peers)
    removed = missing.pop(KEYS["s2"])
    actions = drift.diff(iface, drift.ObservedInterface(**{**seen.__dict__, "peers": missing}),
                         Path("k"))
    assert [type(a).__name__ for a in actions] == ["SetPeer"]
    assert removed.public_key == actions[0].peer.public_key  # type: ignore[union-attr]


def test_drift_fresh_interface_order() -> None:
    iface = topology.plan_site(mesh(), "s1").interfaces[0]
    names = [type(a).__name__ for a in drift.diff(iface, drift.ObservedInterface("x"), Path("k"))]
    assert names == ["StartDaemon", "SetDevice", "SetPeer", "SetPeer", "AddAddress", "LinkUp",
                     "ReplaceRoute"]


def test_parse_dump_drops_private_key() -> None:
    dump = ("PRIVATEKEYPRIVATEKEY\tPUB\t51820\toff\n"
            "P1\t(none)\t192.0.2.2:51820\t10.10.0.2/32\t1700000000\t10\t20\t25\n"
            "P2\t(none)\t(none)\t(none)\t0\t0\t0\toff\n")
    pub, port, peers = drift.parse_wg_dump(dump)
    assert (pub, port) == ("PUB", 51820)
    assert peers["P1"].allowed_ips == ("10.10.0.2/32",) and peers["P1"].keepalive_seconds == 25
    assert peers["P2"].endpoint is None and peers["P2"].allowed_ips == ()
    assert "PRIVATEKEY" not in repr(peers)

"""Drift: what a site's interface looks like now, and the actions that make it match the plan.

Pure: parsing of `wg show dump` / `ip -j` output and the diff between desired and observed.
The apply module observes and executes; nothing here runs a command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

from slices.model import Peer, SiteInterface


@dataclass(frozen=True)
class ObservedPeer:
    public_key: str
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    latest_handshake_epoch: int
    rx_bytes: int
    tx_bytes: int
    keepalive_seconds: int


@dataclass(frozen=True)
class ObservedInterface:
    ifname: str
    exists: bool = False
    up: bool = False
    public_key: str | None = None
    listen_port: int | None = None
    peers: dict[str, ObservedPeer] = field(default_factory=dict)
    addresses: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()
    mark_routes: frozenset[str] = frozenset()


# -- actions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartDaemon:
    ifname: str
    slice_name: str


@dataclass(frozen=True)
class SetDevice:
    ifname: str
    key_path: Path
    listen_port: int


@dataclass(frozen=True)
class SetPeer:
    ifname: str
    peer: Peer


@dataclass(frozen=True)
class RemovePeer:
    ifname: str
    public_key: str


@dataclass(frozen=True)
class LinkUp:
    ifname: str


@dataclass(frozen=True)
class AddAddress:
    ifname: str
    address: IPv4Interface


@dataclass(frozen=True)
class DelAddress:
    ifname: str
    address: str


@dataclass(frozen=True)
class ReplaceRoute:
    ifname: str
    network: IPv4Network
    table: int | None = None


@dataclass(frozen=True)
class DelRoute:
    ifname: str
    network: str
    table: int | None = None


@dataclass(frozen=True)
class DropMarkRule:
    mark: int


@dataclass(frozen=True)
class EnsureMarkRule:
    mark: int


Action = (StartDaemon | SetDevice | SetPeer | RemovePeer | LinkUp | AddAddress | DelAddress
          | ReplaceRoute | DelRoute | EnsureMarkRule | DropMarkRule)


def parse_wg_dump(text: str) -> tuple[str, int, dict[str, ObservedPeer]]:
    """(public key, listen port, peers) from `wg show IF dump`; the private key is dropped."""
    lines = text.strip().splitlines()
    head = lines[0].split("\t")
    public_key, port = head[1], int(head[2])
    peers: dict[str, ObservedPeer] = {}
    for line in lines[1:]:
        pub, _psk, endpoint, allowed, handshake, rx, tx, keepalive = line.split("\t")[:8]
        peers[pub] = ObservedPeer(
            public_key=pub,
            endpoint=None if endpoint == "(none)" else endpoint,
            allowed_ips=() if allowed == "(none)" else tuple(sorted(allowed.split(","))),
            latest_handshake_epoch=int(handshake),
            rx_bytes=int(rx),
            tx_bytes=int(tx),
            keepalive_seconds=0 if keepalive == "off" else int(keepalive),
        )
    return public_key, port, peers


def parse_addresses(ip_json: str) -> tuple[bool, frozenset[str]]:
    """(link is up, set of 'a.b.c.d/len') from `ip -j addr show dev IF`."""
    links = json.loads(ip_json or "[]")
    if not links:
        return False, frozenset()
    link = links[0]
    up = "UP" in link.get("flags", [])
    addrs = frozenset(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                      if a.get("family") == "inet")
    return up, addrs


def parse_routes(ip_json: str) -> tuple[frozenset[str], frozenset[str]]:
    """(main-table prefixes, other-table 'prefix@table') from `ip -j route show table all`."""
    main: set[str] = set()
    other: set[str] = set()
    for route in json.loads(ip_json or "[]"):
        dst = route.get("dst", "")
        if "/" not in dst:
            dst = f"{dst}/32"
        table = route.get("table", "main")
        if table == "main":
            main.add(dst)
        elif table != "local":
            other.add(f"{dst}@{table}")
    return frozenset(main), frozenset(other)


def _peer_matches(want: Peer, seen: ObservedPeer) -> bool:
    return (seen.endpoint == str(want.endpoint)
            and seen.allowed_ips == tuple(sorted(str(n) for n in want.allowed_ips))
            and seen.keepalive_seconds == want.keepalive_seconds)


def _peer_actions(want: SiteInterface, seen: ObservedInterface) -> list[Action]:
    actions: list[Action] = []
    desired = {p.public_key for p in want.peers}
    for peer in want.peers:
        current = seen.peers.get(peer.public_key)
        if current is None or not _peer_matches(peer, current):
            actions.append(SetPeer(want.ifname, peer))
    actions.extend(RemovePeer(want.ifname, k) for k in sorted(seen.peers) if k not in desired)
    return actions


def _address_actions(want: SiteInterface, seen: ObservedInterface) -> list[Action]:
    actions: list[Action] = []
    if str(want.address) not in seen.addresses:
        actions.append(AddAddress(want.ifname, want.address))
    actions.extend(DelAddress(want.ifname, a) for a in sorted(seen.addresses)
                   if a != str(want.address))
    return actions


def _route_actions(want: SiteInterface, seen: ObservedInterface) -> list[Action]:
    wanted = {str(r) for r in want.routes}
    actions: list[Action] = [ReplaceRoute(want.ifname, r) for r in want.routes
                             if str(r) not in seen.routes]
    # A standby keeps the slice route until the primary's `ip route replace` takes it over.
    keep = {str(want.address)} | (set() if want.primary else {str(want.cidr)})
    actions.extend(DelRoute(want.ifname, r) for r in sorted(seen.routes - wanted - keep))
    if want.reply_mark is not None:
        if f"{want.cidr}@{want.reply_mark}" not in seen.mark_routes:
            actions.append(EnsureMarkRule(want.reply_mark))
            actions.append(ReplaceRoute(want.ifname, want.cidr, want.reply_mark))
    else:  # left over from when this interface was the standby
        for entry in sorted(seen.mark_routes):
            network, _, table = entry.partition("@")
            if table.isdigit():
                actions += [DelRoute(want.ifname, network, int(table)), DropMarkRule(int(table))]
    return actions


def diff(want: SiteInterface, seen: ObservedInterface, key_path: Path) -> tuple[Action, ...]:
    """The actions, in order, that turn `seen` into `want`; empty when they already match."""
    actions: list[Action] = []
    if not seen.exists:
        actions.append(StartDaemon(want.ifname, want.slice_name))
    if seen.public_key != want.public_key or seen.listen_port != want.listen_port:
        actions.append(SetDevice(want.ifname, key_path, want.listen_port))
    actions += _peer_actions(want, seen)
    actions += _address_actions(want, seen)
    if not seen.up:
        actions.append(LinkUp(want.ifname))
    actions += _route_actions(want, seen)
    return tuple(actions)

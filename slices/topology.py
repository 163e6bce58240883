"""Topology: a pure function from a slice to what each site should run (Kilo's model).

No I/O here. `plan_site` says which WireGuard interfaces a site runs for a slice, which peers
each has and with what AllowedIPs, and which routes point at it.
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network

from slices.errors import NotFoundError
from slices.model import (
    Member,
    Peer,
    RotationPhase,
    SiteInterface,
    SitePlan,
    Slice,
    TopologyKind,
    interface_name,
    reply_mark,
)

ROTATION_KEEPALIVE_SECONDS = 1


def _allowed_for(slc: Slice, observer: Member, target: Member) -> tuple[IPv4Network, ...] | None:
    """AllowedIPs `observer` gives `target`, or None when they are not peers at all."""
    if slc.topology is TopologyKind.FULL_MESH:
        return (IPv4Network(f"{target.overlay_ip}/32"),)
    if observer.site_id == slc.hub:
        return (IPv4Network(f"{target.overlay_ip}/32"),)
    if target.site_id == slc.hub:
        return (slc.cidr,)
    return None


def _peer_entries(target: Member, allowed: tuple[IPv4Network, ...]) -> tuple[Peer, ...]:
    """One peer normally; during the target's rotation, old and new key side by side."""
    current = Peer(target.site_id, target.public_key, target.endpoint_for(target.generation),
                   allowed)
    if target.phase is RotationPhase.NONE or target.next_public_key is None:
        return (current,)
    nxt_endpoint = target.endpoint_for(target.generation + 1)
    if target.phase in (RotationPhase.PREPARED, RotationPhase.SWITCHED):
        nxt = Peer(target.site_id, target.next_public_key, nxt_endpoint, (),
                   ROTATION_KEEPALIVE_SECONDS)
        return (current, nxt)
    old = Peer(target.site_id, target.public_key, current.endpoint, ())
    return (Peer(target.site_id, target.next_public_key, nxt_endpoint, allowed), old)


def peers_for(slc: Slice, site_id: str) -> tuple[Peer, ...]:
    """Every peer entry `site_id` should have for `slc`, in member order."""
    observer = slc.member(site_id)
    if observer is None:
        raise NotFoundError(f"site {site_id!r} is not a member of slice {slc.name!r}")
    peers: list[Peer] = []
    for target in slc.members:
        if target.site_id == site_id:
            continue
        allowed = _allowed_for(slc, observer, target)
        if allowed is not None:
            peers.extend(_peer_entries(target, allowed))
    return tuple(peers)


def _interface(slc: Slice, me: Member, generation: int, primary: bool,
               peers: tuple[Peer, ...]) -> SiteInterface:
    ifname = interface_name(slc.name, me.site_id, generation)
    key = me.public_key if generation == me.generation else (me.next_public_key or "")
    return SiteInterface(
        slice_name=slc.name,
        site_id=me.site_id,
        ifname=ifname,
        generation=generation,
        listen_port=me.port_for(generation),
        address=IPv4Interface(f"{me.overlay_ip}/32"),
        cidr=slc.cidr,
        public_key=key,
        primary=primary,
        peers=peers,
        routes=(slc.cidr,) if primary else (),
        forwarding=slc.topology is TopologyKind.HUB_AND_SPOKE and slc.hub == me.site_id,
        reply_mark=None if primary else reply_mark(ifname),
    )


def plan_site(slc: Slice, site_id: str) -> SitePlan:
    """What `site_id` runs for `slc`; the primary interface comes first."""
    me = slc.member(site_id)
    if me is None:
        raise NotFoundError(f"site {site_id!r} is not a member of slice {slc.name!r}")
    peers = peers_for(slc, site_id)
    interfaces: tuple[SiteInterface, ...]
    if me.phase is RotationPhase.NONE or me.next_public_key is None:
        interfaces = (_interface(slc, me, me.generation, True, peers),)
    else:
        new_primary = me.phase in (RotationPhase.SWITCHED, RotationPhase.CUTOVER)
        new = _interface(slc, me, me.generation + 1, new_primary, peers)
        old = _interface(slc, me, me.generation, not new_primary, peers)
        interfaces = (new, old) if new_primary else (old, new)
    return SitePlan(slc.name, site_id, slc.cidr, interfaces)


def plan_all(slc: Slice) -> dict[str, SitePlan]:
    return {m.site_id: plan_site(slc, m.site_id) for m in slc.members}

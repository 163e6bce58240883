"""A slice's status as `edgewise slice status --json` writes it, built by the slices package's
own functions (`parse_wg_dump`, `assess`, `peer_document`) from a `wg show IF dump` in
WireGuard's format: no WireGuard needed."""

from __future__ import annotations

import json
from pathlib import Path

from slices.drift import parse_wg_dump
from slices.health import assess, peer_document
from slices.model import Peer, SiteInterface


def wg_dump(now: float) -> str:
    """`wg show wg-s0 dump` as WireGuard prints it: the interface line (private key, public
    key, port, fwmark), then per peer: public key, preshared key, endpoint, allowed IPs, latest
    handshake (Unix s, 0 never), rx bytes, tx bytes, keepalive. Peers handshook 42 s and
    600 s before `now`, and never."""
    t = int(now)
    return (
        "cHJpdmF0ZWtleXByaXZhdGVrZXlwcml2YXRla2V5cHI=\t"
        "c2l0ZWFwdWJsaWNrZXlzaXRlYXB1YmxpY2tleXNpdGU=\t51820\toff\n"
        "cGVlcmJwdWJsaWNrZXlwZWVyYnB1YmxpY2tleXBlZXI=\t(none)\t10.0.0.2:51820\t10.10.0.2/32\t"
        f"{t - 42}\t123456\t654321\t25\n"
        "cGVlcmNwdWJsaWNrZXlwZWVyY3B1YmxpY2tleXBlZXI=\t(none)\t10.0.0.3:51820\t10.10.0.3/32\t"
        f"{t - 600}\t100\t200\t25\n"
        "cGVlcmRwdWJsaWNrZXlwZWVyZHB1YmxpY2tleXBlZXI=\t(none)\t(none)\t10.10.0.4/32\t0\t0\t"
        "148\t25\n")


def status_file(path: Path, observed_at: float, now: float) -> Path:
    """What `edgewise slice status --json` writes, built by the same functions from a dump."""
    from ipaddress import IPv4Address, IPv4Interface, IPv4Network

    from slices.drift import ObservedInterface
    from slices.model import Endpoint

    public_key, port, peers = parse_wg_dump(wg_dump(now))
    want = SiteInterface(
        slice_name="shop", site_id="site-a", ifname="wg-s0", generation=0, listen_port=port,
        address=IPv4Interface("10.10.0.1/24"), cidr=IPv4Network("10.10.0.0/24"),
        public_key=public_key, primary=True, routes=(), forwarding=False, reply_mark=None,
        peers=tuple(Peer(site, key, Endpoint(IPv4Address(f"10.0.0.{i + 2}"), 51820),
                         (IPv4Network(f"10.10.0.{i + 2}/32"),))
                    for i, (site, key) in enumerate(zip(("site-b", "site-c", "site-d"), peers,
                                                        strict=True))))
    seen = ObservedInterface("wg-s0", exists=True, up=True, public_key=public_key,
                             listen_port=port, peers=peers)
    rows = assess(want, seen, observed_at)
    path.write_text(json.dumps({"kind": "SliceStatus", "slice": "shop", "site": "site-a",
                                "observed_at": observed_at, "interfaces": [{
                                    "interface": "wg-s0", "address": "10.10.0.1/24",
                                    "generation": 0, "up": True,
                                    "peers": [peer_document(r, observed_at) for r in rows]}]}))
    return path

"""Rendering: a site's interface plan as WireGuard configuration text.

The output is wg-quick compatible but carries no private key: `PostUp` loads it from the site's
own key file, so a rendered config can be shown, diffed and stored without leaking anything.
"""

from __future__ import annotations

from pathlib import Path

from slices.model import Peer, SiteInterface


def _peer_block(peer: Peer) -> list[str]:
    allowed = ", ".join(str(n) for n in peer.allowed_ips)
    lines = [
        "",
        "[Peer]",
        f"# site {peer.site_id}",
        f"PublicKey = {peer.public_key}",
        f"Endpoint = {peer.endpoint}",
        f"AllowedIPs = {allowed}",
    ]
    if peer.keepalive_seconds:
        lines.append(f"PersistentKeepalive = {peer.keepalive_seconds}")
    return lines


def render_config(iface: SiteInterface, key_path: Path) -> str:
    """wg-quick style text for `iface`; `key_path` is named, its content never read."""
    role = "primary" if iface.primary else "standby (key rotation)"
    lines = [
        f"# edgewise slice {iface.slice_name}, site {iface.site_id}, "
        f"key generation {iface.generation}, {role}",
        "[Interface]",
        f"# PublicKey = {iface.public_key}",
        f"Address = {iface.address}",
        f"ListenPort = {iface.listen_port}",
        "Table = off",
        f"PostUp = wg set %i private-key {key_path}",
    ]
    lines.extend(f"PostUp = ip route replace {route} dev %i" for route in iface.routes)
    for peer in iface.peers:
        lines.extend(_peer_block(peer))
    return "\n".join(lines) + "\n"

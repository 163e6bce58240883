"""Rendering: a site's interface plan as WireGuard configuration text.

The output is wg-quick compatible but carries no private key: `PostUp` loads it from the site's
own key file, so a rendered config can be shown, diffed and stored without leaking anything.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from slices.errors import ValidationError
from slices.model import Peer, SiteInterface


def _value(text: object) -> str:
    """One config value: refused if it could start a new line (and so a new section or a
    PostUp that wg-quick would run through bash)."""
    value = str(text)
    if any(c in value for c in "\n\r\x00") or not value.isprintable():
        raise ValidationError(f"refusing to render {value[:16]!r}...: a config value must be one "
                              "printable line")
    return value


def _peer_block(peer: Peer) -> list[str]:
    allowed = ", ".join(str(n) for n in peer.allowed_ips)
    lines = [
        "",
        "[Peer]",
        f"# site {_value(peer.site_id)}",
        f"PublicKey = {_value(peer.public_key)}",
        f"Endpoint = {_value(peer.endpoint)}",
        f"AllowedIPs = {_value(allowed)}",
    ]
    if peer.keepalive_seconds:
        lines.append(f"PersistentKeepalive = {peer.keepalive_seconds}")
    return lines


def render_config(iface: SiteInterface, key_path: Path) -> str:
    """wg-quick style text for `iface`; `key_path` is named, its content never read."""
    role = "primary" if iface.primary else "standby (key rotation)"
    lines = [
        f"# edgewise slice {_value(iface.slice_name)}, site {_value(iface.site_id)}, "
        f"key generation {iface.generation}, {role}",
        "[Interface]",
        f"# PublicKey = {_value(iface.public_key)}",
        f"Address = {_value(iface.address)}",
        f"ListenPort = {int(iface.listen_port)}",
        "Table = off",
        f"PostUp = wg set %i private-key {_value(shlex.quote(str(key_path)))}",
    ]
    lines.extend(f"PostUp = ip route replace {_value(route)} dev %i" for route in iface.routes)
    for peer in iface.peers:
        lines.extend(_peer_block(peer))
    return "\n".join(lines) + "\n"

"""Health of a site's slice interface: handshake age, traffic and reachability per peer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from slices.drift import ObservedInterface
from slices.model import SiteInterface

# WireGuard re-keys every 120 s and rejects sessions older than 180 s.
STALE_AFTER_SECONDS = 180


class PeerState(Enum):
    HEALTHY = "healthy"
    STALE = "stale"
    NO_HANDSHAKE = "no-handshake"
    MISSING = "missing"


@dataclass(frozen=True)
class PeerHealth:
    site_id: str
    public_key: str
    endpoint: str
    handshake_age_seconds: float | None
    rx_bytes: int
    tx_bytes: int
    reachable: bool | None
    state: PeerState


def assess(want: SiteInterface, seen: ObservedInterface, now_epoch: float,
           reachable: dict[str, bool] | None = None) -> tuple[PeerHealth, ...]:
    """One row per desired peer; `reachable` maps site id to a ping result when probed."""
    rows = []
    for peer in want.peers:
        obs = seen.peers.get(peer.public_key)
        if obs is None:
            rows.append(PeerHealth(peer.site_id, peer.public_key, str(peer.endpoint), None, 0, 0,
                                   None, PeerState.MISSING))
            continue
        age = None if obs.latest_handshake_epoch == 0 else now_epoch - obs.latest_handshake_epoch
        if age is None:
            state = PeerState.NO_HANDSHAKE
        elif age > STALE_AFTER_SECONDS:
            state = PeerState.STALE
        else:
            state = PeerState.HEALTHY
        probe = None if reachable is None or not peer.allowed_ips else reachable.get(peer.site_id)
        rows.append(PeerHealth(peer.site_id, peer.public_key, obs.endpoint or "-", age,
                               obs.rx_bytes, obs.tx_bytes, probe, state))
    return tuple(rows)


def peer_document(r: PeerHealth, now_epoch: float) -> dict[str, Any]:
    """A row as JSON (`edgewise slice status --json`; the dashboard's Slices page reads it)."""
    age = r.handshake_age_seconds
    return {"site_id": r.site_id, "public_key": r.public_key, "endpoint": r.endpoint,
            "latest_handshake_epoch": None if age is None else int(round(now_epoch - age)),
            "handshake_age_seconds": age, "rx_bytes": r.rx_bytes, "tx_bytes": r.tx_bytes,
            "reachable": r.reachable, "state": r.state.value}


def format_table(rows: tuple[PeerHealth, ...]) -> str:
    lines = [f"{'PEER':<10} {'ENDPOINT':<22} {'HANDSHAKE':>10} {'RX':>10} {'TX':>10} "
             f"{'PING':>5}  STATE"]
    for r in rows:
        age = "never" if r.handshake_age_seconds is None else f"{r.handshake_age_seconds:.0f}s ago"
        ping = "-" if r.reachable is None else ("ok" if r.reachable else "FAIL")
        lines.append(f"{r.site_id:<10} {r.endpoint:<22} {age:>10} {r.rx_bytes:>10} "
                     f"{r.tx_bytes:>10} {ping:>5}  {r.state.value}")
    return "\n".join(lines)

"""Crossed first handshakes: which peers a site re-adds so that one side initiates afresh.

Two sites that add each other within one round trip both send an initiation at once
(persistent keepalive). Each answers the other's, which drops its own pending handshake, so
both responses are refused and nothing more is sent until WireGuard's 5 s retry. Seen from
either side, the peer has received bytes (the other's initiation) but has no handshake.

The repair: a peer still in that state `GRACE_SECONDS` after the agent configured it (or first
saw it without a handshake) is removed and added back with the same config, once; the new
entry initiates again while the other side waits out its timer. Only the side with the smaller
public key does it, so the two sides never cross again. Pure: the agent brings the clock and
the previous decision, `apply` runs `wg`. docs/slices.md has the measurements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field

from slices.drift import ObservedPeer

# Longer than a round trip between sites, far shorter than WireGuard's 5 s handshake retry.
GRACE_SECONDS = 0.5


@dataclass(frozen=True)
class Watch:
    """A peer without a handshake yet: since when (agent clock), and whether it was re-added."""

    since_seconds: float
    readded: bool = False


@dataclass(frozen=True)
class Crossed:
    """A peer to re-add now, with what the log says about why."""

    public_key: str
    rx_bytes: int
    waited_seconds: float


@dataclass(frozen=True)
class Decision:
    """One interface's verdict: peers to re-add, what to watch until the next pass, and when
    a pass could next re-add one (None: not before the agent's regular period)."""

    crossed: tuple[Crossed, ...] = ()
    watches: Mapping[str, Watch] = field(default_factory=dict)
    recheck_at_seconds: float | None = None


def repairs(own_public_key: str, peer_public_key: str) -> bool:
    """The tie-break: only the side with the smaller public key (base64 text) re-adds."""
    return own_public_key < peer_public_key


def decide(own_public_key: str, wanted: Iterable[str], configured: Set[str],
           observed: Mapping[str, ObservedPeer], previous: Decision, now_seconds: float,
           grace_seconds: float = GRACE_SECONDS) -> Decision:
    """Which of the `wanted` peers (public keys) are crossed and should be re-added now.

    `configured` are the peers this pass set, `observed` the interface's peers as seen at the
    start of the pass, `previous` the decision of the pass before (its watches).
    """
    watches: dict[str, Watch] = {}
    for key in wanted:
        seen = observed.get(key)
        if seen is not None and seen.latest_handshake_epoch > 0:
            continue  # hand-shaken: nothing to watch
        fresh = Watch(now_seconds)
        watches[key] = fresh if key in configured else previous.watches.get(key, fresh)
    crossed: list[Crossed] = []
    for key, watch in sorted(watches.items()):
        seen = observed.get(key)
        waited = now_seconds - watch.since_seconds
        if seen is not None and seen.rx_bytes > 0 and waited >= grace_seconds \
                and not watch.readded and repairs(own_public_key, key):
            crossed.append(Crossed(key, seen.rx_bytes, waited))
            watches[key] = Watch(now_seconds, readded=True)
    due = [w.since_seconds + grace_seconds for key, w in watches.items()
           if not w.readded and repairs(own_public_key, key)
           and w.since_seconds + grace_seconds > now_seconds]
    return Decision(tuple(crossed), watches, min(due, default=None))

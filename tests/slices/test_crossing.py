"""Crossed first handshakes: the pure decision of which peers to re-add, table-driven."""

from __future__ import annotations

import pytest

from slices.crossing import GRACE_SECONDS, Crossed, Decision, Watch, decide, repairs
from slices.drift import ObservedPeer

LOW, OWN, HIGH = "A" * 43 + "=", "M" * 43 + "=", "Z" * 43 + "="  # public keys, in order
INITIATION_BYTES = 148


def peer(key: str, rx_bytes: int = INITIATION_BYTES, handshake_epoch: int = 0) -> ObservedPeer:
    return ObservedPeer(key, "192.0.2.12:51820", ("10.10.0.2/32",), handshake_epoch, rx_bytes,
                        240, 25)


def previous(since_seconds: float, readded: bool = False, key: str = HIGH) -> Decision:
    return Decision(watches={key: Watch(since_seconds, readded)})


def test_tie_break_is_one_sided() -> None:
    assert repairs(OWN, HIGH) and not repairs(HIGH, OWN)
    assert not repairs(OWN, LOW) and repairs(LOW, OWN)


@pytest.mark.parametrize(("case", "observed", "before", "now", "readd"), [
    ("crossed past the grace: re-add", peer(HIGH), previous(10.0), 10.6, True),
    ("crossed, still within the grace", peer(HIGH), previous(10.0), 10.3, False),
    ("nothing received yet: the other side has not added us", peer(HIGH, rx_bytes=0),
     previous(10.0), 12.0, False),
    ("hand-shaken", peer(HIGH, handshake_epoch=1_700_000_000), previous(10.0), 12.0, False),
    ("re-added once already", peer(HIGH), previous(10.0, readded=True), 12.0, False),
    ("the other side has the smaller key", peer(LOW), previous(10.0, key=LOW), 12.0, False),
    ("first seen now (configured before this agent started)", peer(HIGH), Decision(), 12.0,
     False),
])
def test_decide(case: str, observed: ObservedPeer, before: Decision, now: float,
                readd: bool) -> None:
    decision = decide(OWN, [observed.public_key], set(), {observed.public_key: observed}, before,
                      now)
    want = (Crossed(observed.public_key, observed.rx_bytes, now - 10.0),) if readd else ()
    assert decision.crossed == want, case


def test_configuring_again_restarts_the_grace() -> None:
    decision = decide(OWN, [HIGH], {HIGH}, {HIGH: peer(HIGH)}, previous(10.0, readded=True),
                      12.0)
    assert decision.crossed == ()
    assert decision.watches == {HIGH: Watch(12.0)}
    assert decision.recheck_at_seconds == 12.0 + GRACE_SECONDS


def test_a_peer_set_this_pass_is_watched_and_rechecked() -> None:
    decision = decide(OWN, [LOW, HIGH], {LOW, HIGH}, {}, Decision(), 5.0)
    assert decision.watches == {LOW: Watch(5.0), HIGH: Watch(5.0)}
    assert decision.recheck_at_seconds == 5.0 + GRACE_SECONDS  # for HIGH, which we repair


@pytest.mark.parametrize(("keys", "before", "recheck"), [
    ((LOW,), previous(5.0, key=LOW), None),  # the other side repairs: no early pass for it
    ((HIGH,), previous(5.0), 5.0 + GRACE_SECONDS),
    ((HIGH,), previous(4.0), None),  # grace over: the regular period looks again
    ((HIGH,), previous(5.0, readded=True), None),
])
def test_recheck(keys: tuple[str, ...], before: Decision, recheck: float | None) -> None:
    observed = {k: peer(k, rx_bytes=0) for k in keys}
    assert decide(OWN, keys, set(), observed, before, 5.2).recheck_at_seconds == recheck


def test_passes_re_add_once_then_forget_after_the_handshake() -> None:
    first = decide(OWN, [HIGH], {HIGH}, {}, Decision(), 0.0)
    crossed = decide(OWN, [HIGH], set(), {HIGH: peer(HIGH)}, first, 0.6)
    assert [c.public_key for c in crossed.crossed] == [HIGH]
    assert crossed.watches == {HIGH: Watch(0.6, readded=True)}
    again = decide(OWN, [HIGH], set(), {HIGH: peer(HIGH)}, crossed, 3.0)
    assert again.crossed == () and again.watches == crossed.watches
    done = decide(OWN, [HIGH], set(), {HIGH: peer(HIGH, handshake_epoch=1)}, again, 3.5)
    assert done == Decision()


def test_peers_no_longer_wanted_are_forgotten() -> None:
    assert decide(OWN, [], set(), {HIGH: peer(HIGH)}, previous(1.0), 9.0) == Decision()

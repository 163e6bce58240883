"""Make-before-break rotation of one site's static key in one slice.

1. prepare: a new key (made here, 0600) and a second interface on a second port come up; peers
   add the new public key with no AllowedIPs and hand-shake with it (keepalive 1 s).
2. switch: the site moves its slice route to the new interface (one atomic `ip route replace`)
   and, until the end, copies what it sends to the old one too (nft `dup`), since each peer
   accepts exactly one of the two keys and moves at a moment this site cannot see.
3. cutover: every peer moves the site's AllowedIPs to the new key (one atomic `wg set`).
   Replies to traffic still arriving on the old interface leave by it (per-packet reply mark),
   so no direction drops a packet.
4. finish: the registry makes the new key current; the old interface, peer entries and key file go.
Every step waits until all peers' agents have reported applying it. A registry (hub) that does
not answer is retried with back-off within the timeout, so a rotation issued or running while
the hub is down completes when it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from slices import keys, topology
from slices.agent import Agent
from slices.backoff import Backoff
from slices.errors import ForbiddenError, RotationError, TemporaryError
from slices.model import RotationPhase

T = TypeVar("T")


@dataclass(frozen=True)
class RotationReport:
    slice_name: str
    site_id: str
    old_generation: int
    new_generation: int
    public_key: str
    seconds: float


class Rotation:
    def __init__(self, agent: Agent, slice_name: str, timeout_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.agent = agent
        self.registry = agent.registry
        self.site_id = agent.site.site_id
        self.slice_name = slice_name
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.sleep = sleep

    def run(self) -> RotationReport:
        started = self.clock()
        call, name, site = self._call, self.slice_name, self.site_id
        member = call(lambda: self.registry.get_member(name, site))
        if member.phase is not RotationPhase.NONE:
            raise RotationError(f"{site} in {name} is mid-rotation ({member.phase.value})")
        new_key = keys.generate(self.agent.site.state_dir, name, member.generation + 1)
        call(lambda: self.registry.begin_rotation(name, site, new_key.public_key))
        call(self.agent.reconcile)
        self._wait("peers to add the new key", lambda: self._peers_at(RotationPhase.PREPARED))
        self._wait("handshakes on the new interface", self._new_interface_ready)
        call(lambda: self.registry.switch(name, site))
        call(self.agent.reconcile)  # route to the new interface, copies to the old one
        call(lambda: self.registry.cut_over(name, site))
        self._wait("peers to move AllowedIPs", lambda: self._peers_at(RotationPhase.CUTOVER))
        call(self.agent.reconcile)
        call(lambda: self.registry.finish_rotation(name, site))
        call(self.agent.reconcile)
        return RotationReport(name, site, member.generation, member.generation + 1,
                              new_key.public_key, self.clock() - started)

    def _call(self, fn: Callable[[], T]) -> T:
        """`fn()`, retried with back-off while the registry is unreachable (up to the timeout)."""
        deadline = self.clock() + self.timeout_seconds
        failures = 0
        while True:
            try:
                return fn()
            # 403 too: a hub apiserver that has just restarted refuses requests until its RBAC
            # cache has synced; a real refusal still fails at the deadline
            except (TemporaryError, ForbiddenError) as exc:
                failures += 1
                if self.clock() > deadline:
                    raise RotationError(f"rotation of {self.site_id} in {self.slice_name}: "
                                        f"registry unreachable for {self.timeout_seconds:.0f} "
                                        f"s ({exc})") from exc
                self.sleep(Backoff().delay_seconds(failures))

    def _peers_at(self, phase: RotationPhase) -> bool:
        slc = self.registry.get_slice(self.slice_name)
        member = slc.member(self.site_id)
        assert member is not None
        seen = self.registry.observations_of(self.slice_name, self.site_id)
        peers = {p.site_id for p in topology.peers_for(slc, self.site_id)}
        return all(seen.get(p) == (member.generation, phase) for p in peers)

    def _new_interface_ready(self) -> bool:
        slc = self.registry.get_slice(self.slice_name)
        plan = topology.plan_site(slc, self.site_id)
        new = next(i for i in plan.interfaces if i.generation > min(
            j.generation for j in plan.interfaces))
        observed = self.agent.host.observe(new.ifname)
        return all(observed.peers.get(p.public_key) is not None
                   and observed.peers[p.public_key].latest_handshake_epoch > 0
                   for p in new.peers)

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = self.clock() + self.timeout_seconds
        while not self._call(ready):
            if self.clock() > deadline:
                raise RotationError(f"rotation of {self.site_id} in {self.slice_name}: timed out "
                                    f"waiting for {what}; are the peers' agents running?")
            self.sleep(0.05)

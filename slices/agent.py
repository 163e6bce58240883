"""The site agent: an idempotent reconcile from the registry to this site's interfaces.

Each pass reads the slices this site belongs to, plans them (`topology`), diffs the plan against
what is running (`drift`) and applies only the difference (`apply`). A second pass right after a
first changes nothing; a peer removed by hand is put back; an interface of a slice this site has
left, or of a deleted slice, is torn down with its firewall table and key files. A pass also
re-adds a peer whose first handshake crossed the other side's (`crossing`), and asks for an
early next pass when one could be due before the regular period.

A pass also caps the slice interface at the slice's QoS rate (`qos`) and, with a `Resolver`,
points the site's DNS forwarder at the services exported in its slices (`dns`). When the
registry (the hub) cannot be reached, `run` leaves every interface as it last applied it (the
tunnels keep carrying traffic: WireGuard needs no registry) and retries with back-off.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slices import crossing, dns, drift, firewall, keys, qos, topology
from slices.apply import Host
from slices.backoff import Backoff
from slices.errors import SliceError, TemporaryError
from slices.model import RotationPhase, SiteInterface, SitePlan, Slice, reply_mark
from slices.resolver import Resolver
from slices.store import SliceRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Site:
    """Where an agent runs: site id, its private state directory, its namespace (tests)."""

    site_id: str
    state_dir: Path
    netns: str | None = None


@dataclass(frozen=True)
class ReconcileReport:
    site_id: str
    changes: tuple[str, ...]
    recheck_in_seconds: float | None = None  # an early next pass is due (crossed handshakes)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class Agent:
    def __init__(self, registry: SliceRegistry, site: Site, host: Host | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 resolver: Resolver | None = None, backoff: Backoff | None = None) -> None:
        self.registry = registry
        self.resolver = resolver
        self.backoff = backoff if backoff is not None else Backoff()
        self.failed_passes = 0  # consecutive passes the registry did not answer
        self.site = site
        self.host = host if host is not None else Host(site.state_dir, site.netns)
        self.clock = clock
        self.crossings_repaired = 0  # peers re-added since this agent started
        self._crossing: dict[str, crossing.Decision] = {}  # by interface name
        self._handshakes: dict[str, dict[str, int]] = {}  # by slice: peer site -> epoch

    def reconcile(self) -> ReconcileReport:
        """One pass; a file lock serialises passes of threads and processes on this site."""
        self.site.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.site.state_dir / "agent.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._reconcile()

    def _reconcile(self) -> ReconcileReport:
        changes: list[str] = []
        slices = self.registry.slices_for_site(self.site.site_id)
        plans = [topology.plan_site(s, self.site.site_id) for s in slices]
        for slc, plan in zip(slices, plans, strict=True):
            changes += self._apply_plan(plan)
            changes += self._apply_qos(slc, plan)
            self._record(slc)
        changes += self._tear_down_unplanned(plans)
        if self.resolver is not None:
            exports = {s.name: self.registry.exports_for(s.name) for s in slices}
            if self.resolver.ensure(dns.records(slices, exports)):
                changes.append("restart dns forwarder")
        planned = {i.ifname for p in plans for i in p.interfaces}
        self._crossing = {n: d for n, d in self._crossing.items() if n in planned}
        due = [d.recheck_at_seconds for d in self._crossing.values()
               if d.recheck_at_seconds is not None]
        recheck = max(0.0, min(due) - self.clock()) if due else None
        return ReconcileReport(self.site.site_id, tuple(changes), recheck)

    def _apply_plan(self, plan: SitePlan) -> list[str]:
        """Standby interface, then firewall (reply marks, copies), then the primary interface:
        during a rotation the primary's route replace is the switch, and must come last."""
        changes: list[str] = []
        for iface in plan.interfaces[1:]:
            changes += self._apply_interface(iface)
        ruleset = firewall.render_ruleset(plan)
        table = firewall.table_name(plan.slice_name)
        wanted = firewall.ruleset_digest(ruleset)
        if self.host.firewall_available and self.host.firewall_digest(table) != wanted:
            self.host.load_firewall(table, ruleset)
            changes.append(f"load nftables table {table}")
        changes += self._apply_interface(plan.interfaces[0])
        if any(i.forwarding for i in plan.interfaces) and self.host.enable_forwarding():
            changes.append("enable ip forwarding")
        return changes

    def _apply_qos(self, slc: Slice, plan: SitePlan) -> list[str]:
        changes: list[str] = []
        for iface in plan.interfaces:
            if qos.needs_change(slc.qos, self.host.qos_rate_mbit(iface.ifname)):
                self.host.set_qos(iface.ifname, slc.qos)
                changes.append(f"set qos {iface.ifname} "
                               f"{slc.qos.rate_mbit if slc.qos else 'none'} Mbit/s")
        return changes

    def _apply_interface(self, iface: SiteInterface) -> list[str]:
        key = keys.load(self.site.state_dir, iface.slice_name, iface.generation)
        observed = self.host.observe(iface.ifname)
        if iface.primary:
            sites = {p.public_key: p.site_id for p in iface.peers}
            self._handshakes[iface.slice_name] = {
                sites[k]: p.latest_handshake_epoch for k, p in observed.peers.items()
                if k in sites and p.latest_handshake_epoch > 0}
        actions = drift.diff(iface, observed, key.path)
        for action in actions:
            self.host.execute(action)
        changes = [f"{type(a).__name__} {a.ifname if hasattr(a, 'ifname') else ''}".strip()
                   for a in actions]
        return changes + self._repair_crossings(iface, observed, actions)

    def _repair_crossings(self, iface: SiteInterface, observed: drift.ObservedInterface,
                          actions: tuple[drift.Action, ...]) -> list[str]:
        """Re-add (remove, then set again) each peer `crossing.decide` finds crossed."""
        configured = {a.peer.public_key for a in actions if isinstance(a, drift.SetPeer)}
        decision = crossing.decide(
            iface.public_key, (p.public_key for p in iface.peers), configured, observed.peers,
            self._crossing.get(iface.ifname, crossing.Decision()), self.clock())
        self._crossing[iface.ifname] = decision
        peers = {p.public_key: p for p in iface.peers}
        changes: list[str] = []
        for crossed in decision.crossed:
            peer = peers[crossed.public_key]
            log.info("%s: peer %s (%s...) on %s received %d bytes but has no handshake after "
                     "%.2f s: crossed first handshakes; re-adding it so this side (the smaller "
                     "public key) initiates again",
                     self.site.netns or self.site.site_id, peer.site_id, peer.public_key[:8],
                     iface.ifname, crossed.rx_bytes, crossed.waited_seconds)
            self.host.execute(drift.RemovePeer(iface.ifname, peer.public_key))
            self.host.execute(drift.SetPeer(iface.ifname, peer))
            self.crossings_repaired += 1
            changes.append(f"re-add crossed peer {peer.site_id} on {iface.ifname}")
        return changes

    def _record(self, slc: Slice) -> None:
        seen = {m.site_id: (m.generation, m.phase) for m in slc.members
                if m.site_id != self.site.site_id}
        seen[self.site.site_id] = next(((m.generation, m.phase) for m in slc.members
                                        if m.site_id == self.site.site_id),
                                       (0, RotationPhase.NONE))
        self.registry.record_observations(slc.name, self.site.site_id, seen)
        self.registry.record_handshakes(slc.name, self.site.site_id,
                                        self._handshakes.get(slc.name, {}))

    def _tear_down_unplanned(self, plans: list[SitePlan]) -> list[str]:
        wanted = {i.ifname for p in plans for i in p.interfaces}
        generations = {p.slice_name: frozenset(i.generation for i in p.interfaces)
                       for p in plans}
        changes: list[str] = []
        for record in self.host.records():
            if record.ifname in wanted:
                continue
            self.host.stop_daemon(record.ifname)
            self.host.delete_mark_rule(reply_mark(record.ifname))
            changes.append(f"stop {record.ifname}")
            if record.slice_name not in generations:
                self.host.delete_firewall(firewall.table_name(record.slice_name))
                keys.remove_older(self.site.state_dir, record.slice_name, None)
                changes.append(f"delete nftables table and keys of {record.slice_name}")
        for slice_name, gens in generations.items():
            keys.remove_older(self.site.state_dir, slice_name, min(gens))
        return changes

    def run(self, stop: threading.Event, interval_seconds: float = 1.0) -> None:
        """Reconcile until `stop` is set (the long-running agent of `slice agent`); a pass
        that asks for an early re-check gets it, sooner than `interval_seconds`. A pass the
        registry could not serve changes nothing here and is retried with back-off."""
        while not stop.is_set():
            try:
                report = self.reconcile()
            except SliceError as exc:  # temporary (hub down) or not: the agent stays up
                self.failed_passes += 1
                delay = max(interval_seconds, self.backoff.delay_seconds(self.failed_passes))
                level = logging.WARNING if isinstance(exc, TemporaryError) else logging.ERROR
                log.log(level, "%s: %s; keeping the last applied config, retry %d in %.1f s",
                        self.site.site_id, exc, self.failed_passes, delay)
                stop.wait(delay)
                continue
            if self.failed_passes:
                log.info("%s: registry reachable again after %d failed passes",
                         self.site.site_id, self.failed_passes)
                self.failed_passes = 0
            recheck = report.recheck_in_seconds
            stop.wait(interval_seconds if recheck is None else min(recheck, interval_seconds))

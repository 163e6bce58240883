"""Bring-up through the hub: N sites join one slice by the hub apiserver, agents converge.

One `HubLab` (hub started once, N sites onboarded once) serves every run; each run creates a
fresh slice, admits the sites, has every site join it concurrently with its own token (each
join timed: `hub_join_p99_ms`), and times create -> every site hand-shaken with every peer
(`hub_bringup_seconds`). Agents are threads, each in its own site's network namespace with its
own `HubRegistry`, polling every 0.5 s (the hub reaches them over the underlay veths, as it
would separate machines). Between runs the slice is deleted and the agents tear it down.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network
from pathlib import Path

from bench.hublab import HubLab, NetnsThread, enter_netns
from slices import keys, topology
from slices.agent import Agent
from slices.model import TopologyKind

AGENT_INTERVAL_SECONDS = 0.5


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


class HubBench:
    def __init__(self, root: Path, count: int) -> None:
        from slices.hub import HubRegistry
        from slices.hub_admin import HubAdmin
        from slices.hub_client import api_client

        self.lab = HubLab(root)
        self.sites = [f"n{i}" for i in range(count)]
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        for site in self.sites:
            self.lab.add_site(site)
        self.lab.start_hub()
        self.admin = self.lab.admin.call(lambda: HubRegistry(api_client(
            str(self.lab.admin_kubeconfig))))
        self.lab.admin.call(lambda: HubAdmin(self.admin.api).install())
        self.registries = {s: HubRegistry.from_kubeconfig(str(self.lab.onboard(s)))
                           for s in self.sites}
        self.joiners = {s: NetnsThread(self.lab.site(s).netns or "") for s in self.sites}
        self.agents = {s: Agent(self.registries[s], self.lab.site(s), self.lab.hosts[s])
                       for s in self.sites}
        for site, agent in self.agents.items():
            thread = threading.Thread(target=self._agent_loop, args=(site, agent), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _agent_loop(self, site: str, agent: Agent) -> None:
        enter_netns(self.lab.site(site).netns or "")
        agent.run(self.stop, AGENT_INTERVAL_SECONDS)

    def run(self, index: int) -> tuple[float, list[float]]:
        from slices.hub_admin import HubAdmin

        name = f"bench{index}"
        started = time.monotonic()

        def create() -> None:
            self.admin.create_slice(name, IPv4Network(f"10.50.{index}.0/24"),
                                    TopologyKind.FULL_MESH)
            admin = HubAdmin(self.admin.api)
            for site in self.sites:
                admin.admit(name, site)
        self.lab.admin.call(create)

        def join(site: str) -> float:
            key = keys.generate(self.lab.site(site).state_dir, name, 0)
            begun = time.perf_counter()
            self.joiners[site].call(lambda: self.registries[site].join(
                name, site, self.lab.underlay[site], key.public_key))
            return (time.perf_counter() - begun) * 1000.0
        with ThreadPoolExecutor(len(self.sites)) as pool:
            join_ms = list(pool.map(join, self.sites))
        self._wait_for_handshakes(name)
        seconds = time.monotonic() - started
        self.lab.admin.call(lambda: self.admin.delete_slice(name))
        self._wait_torn_down()
        return seconds, join_ms

    def _wait_for_handshakes(self, name: str) -> None:
        slc = self.lab.admin.call(lambda: self.admin.get_slice(name))
        addresses = {m.overlay_ip for m in slc.members}
        if len(slc.members) != len(self.sites) or len(addresses) != len(self.sites):
            raise RuntimeError(f"{name}: {len(slc.members)} members with {len(addresses)} "
                               f"distinct addresses after {len(self.sites)} concurrent joins")
        pending = {s: topology.plan_site(slc, s).interfaces[0] for s in self.sites}
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for site, iface in list(pending.items()):
                seen = self.lab.hosts[site].observe(iface.ifname)
                if len(seen.peers) == len(self.sites) - 1 and all(
                        p.latest_handshake_epoch > 0 for p in seen.peers.values()):
                    del pending[site]
            time.sleep(0.02)
        if pending:
            raise RuntimeError(f"no handshake on {sorted(pending)} after 60 s")

    def _wait_torn_down(self) -> None:
        deadline = time.monotonic() + 30
        while any(h.records() for h in self.lab.hosts.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("agents did not tear the slice down within 30 s")
            time.sleep(0.1)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)
        for joiner in self.joiners.values():
            joiner.close()
        self.lab.close()


def measure(root: Path, count: int, repeat: int) -> tuple[list[float], list[float]]:
    """Bring-up seconds per run and every join's latency in ms."""
    bench = HubBench(root, count)
    bringups: list[float] = []
    joins: list[float] = []
    try:
        for index in range(repeat):
            seconds, join_ms = bench.run(index)
            bringups.append(seconds)
            joins.extend(join_ms)
            print(f"hub bring-up {count:>2} sites, run {index + 1}: {seconds:.2f} s, joins "
                  f"p99 {p99(join_ms):.0f} ms, max {max(join_ms):.0f} ms "
                  f"({sum(r.ipam_conflicts for r in bench.registries.values())} address-pool "
                  "conflicts retried so far)", flush=True)
    finally:
        bench.close()
    return bringups, joins

"""A throw-away underlay of network namespaces for e2e tests and benchmarks.

Sites are namespaces joined by veths to a bridge in a hub namespace, on 192.0.2.0/24 (a
documentation range): nothing here can reach beyond the machine. Everything made is recorded and
removed by `close()`, which stops leftover wireguard-go daemons by pid first.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from slices.agent import Agent, Site
from slices.apply import DaemonTable, Host
from slices.registry import Registry

UNDERLAY_PREFIX = "192.0.2."


def sh(*argv: str, check: bool = True) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Lab:
    root: Path
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: list[str] = field(default_factory=list)
    daemons: DaemonTable = field(default_factory=DaemonTable)
    hosts: dict[str, Host] = field(default_factory=dict)
    underlay: dict[str, IPv4Address] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.registry = Registry(self.root / "registry.db")
        self.bridge_ns = self._netns("ul")
        sh("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")

    def _netns(self, suffix: str) -> str:
        name = f"ew{self.token}{suffix}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def add_site(self, site_id: str) -> Site:
        index = len(self.hosts) + 1
        ns = self._netns(site_id)
        outer = f"v{self.token}{index}"
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", "ul0", "netns", ns)
        sh("ip", "link", "set", outer, "netns", self.bridge_ns)
        sh("ip", "-n", self.bridge_ns, "link", "set", outer, "master", "br0", "up")
        address = IPv4Address(f"{UNDERLAY_PREFIX}{10 + index}")
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "ul0")
        sh("ip", "-n", ns, "link", "set", "ul0", "up")
        site = Site(site_id, self.root / "sites" / site_id, ns)
        self.hosts[site_id] = Host(site.state_dir, ns, self.daemons)
        self.underlay[site_id] = address
        return site

    def site(self, site_id: str) -> Site:
        host = self.hosts[site_id]
        return Site(site_id, host.state_dir, host.netns)

    def agent(self, site_id: str) -> Agent:
        return Agent(self.registry, self.site(site_id), self.hosts[site_id])

    def exec(self, site_id: str, *argv: str, check: bool = True) -> str:
        return sh("ip", "netns", "exec", self.hosts[site_id].netns or "", *argv, check=check)

    def ping(self, site_id: str, address: str, count: int = 1) -> bool:
        """True when all `count` probes from `site_id` to `address` were answered."""
        out = self.exec(site_id, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", address,
                        check=False)
        return f" {count} received" in out

    def wait_ping(self, site_id: str, address: str, timeout_seconds: float) -> bool:
        """True as soon as one probe is answered within `timeout_seconds`."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.ping(site_id, address):
                return True
        return False

    def close(self) -> None:
        for host in self.hosts.values():
            for record in host.records():
                host.stop_daemon(record.ifname)
        for pid, proc in list(self.daemons.children.items()):
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            self.daemons.children.pop(pid, None)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()

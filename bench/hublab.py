"""A hub cluster on the lab's underlay: etcd and kube-apiserver in the bridge namespace.

The apiserver listens only on the bridge's address (192.0.2.1:6443) inside that namespace, etcd
only on its loopback; sites reach the hub over their veths like separate machines would. The
test process itself is in the root namespace, so administrator calls and in-process agents run
on threads that entered a lab namespace (`NetnsThread`): a network namespace is per thread on
Linux, and sockets belong to the namespace of the thread that made them.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import requests
import urllib3
import yaml

from bench.k8slab import K8S_BIN, Proc, wait_for
from bench.netlab import UNDERLAY_PREFIX, Lab, sh

HUB_ADDRESS = f"{UNDERLAY_PREFIX}1"
API_PORT = 6443
_CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace `name`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
    finally:
        os.close(fd)


class NetnsThread:
    """One worker thread living in a network namespace; `call` runs a function there."""

    def __init__(self, netns: str) -> None:
        self.pool = ThreadPoolExecutor(1, initializer=enter_netns, initargs=(netns,))

    def call(self, fn: Callable[[], T]) -> T:
        return self.pool.submit(fn).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@dataclass
class HubLab(Lab):
    """The netlab underlay plus a hub control plane in its bridge namespace."""

    hub_token: str = field(default_factory=lambda: secrets.token_hex(16))
    procs: dict[str, Proc] = field(default_factory=dict)
    agents: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        sh("ip", "-n", self.bridge_ns, "addr", "add", f"{HUB_ADDRESS}/24", "dev", "br0")
        self.hub_dir = self.root / "hub"
        (self.hub_dir / "certs").mkdir(parents=True, exist_ok=True)
        self.creds_dir = self.root / "creds"
        self.creds_dir.mkdir(mode=0o700, exist_ok=True)
        subprocess.run(["openssl", "genrsa", "-out", str(self.hub_dir / "sa.key"), "2048"],
                       check=True, capture_output=True)
        (self.hub_dir / "tokens.csv").write_text(f"{self.hub_token},admin,admin,system:masters\n")
        os.chmod(self.hub_dir / "tokens.csv", 0o600)
        self.admin_kubeconfig = self.creds_dir / "admin.kubeconfig"
        self._write_kubeconfig(self.admin_kubeconfig, "admin", self.hub_token)
        self.admin = NetnsThread(self.bridge_ns)
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    @property
    def server(self) -> str:
        return f"https://{HUB_ADDRESS}:{API_PORT}"

    def _write_kubeconfig(self, path: Path, user: str, token: str) -> None:
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": user,
               "clusters": [{"name": "hub", "cluster": {"server": self.server,
                                                        "insecure-skip-tls-verify": True}}],
               "users": [{"name": user, "user": {"token": token}}],
               "contexts": [{"name": user, "context": {"cluster": "hub", "user": user}}]}
        path.write_text(yaml.safe_dump(cfg))
        os.chmod(path, 0o600)

    def _in_hub(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.bridge_ns, *argv]

    def start_hub(self) -> None:
        if not (K8S_BIN / "kube-apiserver").exists():
            raise RuntimeError(f"no kube-apiserver in {K8S_BIN}: run scripts/build-k8s.sh")
        d = self.hub_dir
        self.procs["etcd"] = Proc("etcd", self._in_hub([
            "etcd", "--data-dir", str(d / "etcd"),
            "--listen-client-urls", "http://127.0.0.1:2379",
            "--advertise-client-urls", "http://127.0.0.1:2379",
            "--listen-peer-urls", "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
            "--initial-cluster", "default=http://127.0.0.1:2380"]), d / "etcd.log").start()
        self.procs["apiserver"] = Proc("apiserver", self._in_hub([
            str(K8S_BIN / "kube-apiserver"), "--etcd-servers", "http://127.0.0.1:2379",
            "--bind-address", HUB_ADDRESS, "--advertise-address", HUB_ADDRESS,
            "--secure-port", str(API_PORT), "--cert-dir", str(d / "certs"),
            "--token-auth-file", str(d / "tokens.csv"), "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(d / "sa.key"),
            "--service-account-signing-key-file", str(d / "sa.key"),
            "--service-cluster-ip-range", "10.0.0.0/24"]), d / "apiserver.log").start()
        wait_for(self._ready, 90, "the hub apiserver /readyz")

    def stop_hub(self) -> None:
        for name in ("apiserver", "etcd"):
            if name in self.procs:
                self.procs[name].stop()

    def _ready(self) -> bool:
        def probe() -> bool:
            answer = requests.get(f"{self.server}/readyz", verify=False, timeout=2,
                                  headers={"Authorization": f"Bearer {self.hub_token}"})
            return answer.status_code == 200
        return self.admin.call(probe)

    def site_kubeconfig(self, site_id: str) -> Path:
        return self.creds_dir / f"{site_id}.kubeconfig"

    def onboard(self, site_id: str) -> Path:
        """Namespace, ServiceAccount, RBAC and a token for `site_id`; its kubeconfig file."""
        from slices.hub_admin import HubAdmin
        from slices.hub_client import api_client

        def run() -> str:
            return HubAdmin(api_client(str(self.admin_kubeconfig))).onboard_site(
                site_id, self.server)
        path = self.site_kubeconfig(site_id)
        path.write_text(self.admin.call(run))
        os.chmod(path, 0o600)
        return path

    def start_agent(self, site_id: str, interval_seconds: float = 0.5,
                    dns: bool = True) -> Proc:
        """`edgewise slice reconcile --loop` as its own process inside the site's namespace,
        with the site's own kubeconfig: a site agent on a separate machine."""
        site = self.site(site_id)
        argv = ["ip", "netns", "exec", site.netns or "", sys.executable, "-m", "edgewise.cli",
                "slice", "--hub-config", str(self.site_kubeconfig(site_id)), "reconcile",
                "--site", site_id, "--state-dir", str(site.state_dir),
                "--loop", str(interval_seconds), *(["--dns"] if dns else [])]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        site.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        proc = Proc(f"agent-{site_id}", argv, self.root / f"agent-{site_id}.log", env).start()
        self.agents[site_id] = proc
        return proc

    def cli_argv(self, site_id: str) -> list[str]:
        return [sys.executable, "-m", "edgewise.cli", "slice", "--hub-config",
                str(self.site_kubeconfig(site_id))]

    def admin_cli(self, *args: str) -> str:
        """One `edgewise slice` command with the administrator's kubeconfig, in the hub's
        namespace (the only place the apiserver can be reached from)."""
        return sh("ip", "netns", "exec", self.bridge_ns, sys.executable, "-m", "edgewise.cli",
                  "slice", "--hub-config", str(self.admin_kubeconfig), *args).strip()

    def cli(self, site_id: str, *args: str, check: bool = True) -> str:
        """One `edgewise slice` command run in the site's namespace with its credentials."""
        return self.exec(site_id, *self.cli_argv(site_id), *args, check=check).strip()

    def close(self) -> None:
        from slices.resolver import Resolver

        for proc in self.agents.values():
            proc.stop()
        for host in self.hosts.values():
            Resolver(host.state_dir, host.netns).stop()
        self.admin.close()
        self.stop_hub()
        super().close()

"""Real parts for the controller's end-to-end tests: etcd, kube-apiserver,
kube-controller-manager (built by scripts/build-k8s.sh, cached), Debian's Prometheus, and
processes of our own (`edgewise replay`, `edgewise controller`). Everything listens on 127.0.0.1
on free ports and is stopped by its pid.

The one simulated part is `PodReadier`, for the tests without a node: it marks Pods
Running/Ready. `bench/k8snode.py` joins a real node (containerd, kubelet, kube-scheduler) to this
control plane instead.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S_BIN = Path.home() / ".cache/edgewise/k8s-1.20.2/bin"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 (not up yet)
            pass
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Proc:
    """A process we started; stopped by its pid only."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        handle = open(self.log, "ab")  # noqa: SIM115 (owned by the child)
        self.popen = subprocess.Popen(self.argv, stdout=handle, stderr=subprocess.STDOUT,
                                      env=self.env, cwd=REPO)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        os.kill(self.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def build_binaries() -> Path:
    if not all((K8S_BIN / b).exists() for b in ("kube-apiserver", "kubelet", "kube-scheduler")):
        subprocess.run(["bash", str(REPO / "scripts/build-k8s.sh")], check=True)
    return K8S_BIN


@dataclass
class ControlPlane:
    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    node_token: str = field(default_factory=lambda: secrets.token_hex(16))
    procs: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.etcd_port, self.api_port = free_port(), free_port()
        self.kubeconfig = self.workdir / "kubeconfig"
        self.node_kubeconfig = self.workdir / "node-kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def start(self) -> ControlPlane:
        bin_dir = build_binaries()
        d = self.workdir
        (d / "certs").mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True,
                       capture_output=True)
        # A kubelet (bench/k8snode.py) joins as system:node:<name>, authorised by the Node
        # authorizer; without a node the user is unused.
        (d / "tokens.csv").write_text(f"{self.token},admin,admin,system:masters\n"
                                      f"{self.node_token},system:node:edgewise-node,node,"
                                      "system:nodes\n")
        self.kubeconfig.write_text(yaml.safe_dump(self._kubeconfig(self.token)))
        self.node_kubeconfig.write_text(yaml.safe_dump(self._kubeconfig(self.node_token)))
        peer = free_port()
        self.procs["etcd"] = Proc("etcd", [
            "etcd", "--data-dir", str(d / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer}"],
            d / "etcd.log").start()
        self.start_apiserver(bin_dir)
        self.procs["kcm"] = Proc("kcm", [
            str(bin_dir / "kube-controller-manager"), "--kubeconfig", str(self.kubeconfig),
            "--leader-elect=false", "--port=0", "--secure-port=0",
            "--controllers=deployment,replicaset,serviceaccount,serviceaccount-token,nodelifecycle,"
            "horizontalpodautoscaling,endpoint",
            "--horizontal-pod-autoscaler-sync-period=1s",
            # token Secrets carry the apiserver's CA: what a Pod's in-cluster config trusts
            "--root-ca-file", str(d / "certs" / "apiserver.crt"),
            "--service-account-private-key-file", str(d / "sa.key")],
            d / "kcm.log").start()
        return self

    def start_apiserver(self, bin_dir: Path = K8S_BIN) -> None:
        d = self.workdir
        self.procs["apiserver"] = Proc("apiserver", [
            str(bin_dir / "kube-apiserver"), "--etcd-servers",
            f"http://127.0.0.1:{self.etcd_port}", "--bind-address", "127.0.0.1",
            "--secure-port", str(self.api_port), "--cert-dir", str(d / "certs"),
            "--token-auth-file", str(d / "tokens.csv"), "--authorization-mode", "Node,RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(d / "sa.key"),
            "--service-account-signing-key-file", str(d / "sa.key"),
            "--service-cluster-ip-range", "10.0.0.0/24"],
            d / "apiserver.log").start()
        wait_for(self.ready, 60, "kube-apiserver /readyz")

    def restart_apiserver(self) -> None:
        self.procs["apiserver"].stop()
        time.sleep(2)
        self.start_apiserver()

    def ready(self) -> bool:
        r = requests.get(f"{self.url}/readyz", verify=False, timeout=2,
                         headers={"Authorization": f"Bearer {self.token}"})
        return r.status_code == 200

    def _kubeconfig(self, token: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
            "clusters": [{"name": "e2e", "cluster": {"server": self.url,
                                                     "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
        }

    def stop(self) -> None:
        for name in ("kcm", "apiserver", "etcd"):
            if name in self.procs:
                self.procs[name].stop()


@dataclass
class Prometheus:
    workdir: Path
    targets: list[str]
    port: int = field(default_factory=free_port)
    proc: Proc | None = None
    data_dir: Path | None = None  # an existing TSDB (e.g. backfilled); default workdir/data
    rule_files: list[Path] = field(default_factory=list)  # recording and alerting rules
    retention: str = "15d"  # Prometheus' default; a longer backfilled history needs more
    extra_jobs: list[dict[str, Any]] = field(default_factory=list)  # more scrape configs

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        cfg: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "replay", "scrape_interval": "1s",
                                "static_configs": [{"targets": self.targets}]},
                               *self.extra_jobs]}
        if self.rule_files:
            cfg["rule_files"] = [str(p) for p in self.rule_files]
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(cfg))

    def add_jobs(self, jobs: list[dict[str, Any]]) -> None:
        """More scrape configs, live: the config is rewritten and Prometheus reloads it
        (SIGHUP)."""
        self.extra_jobs += jobs
        self._write_config()
        if self.proc is not None and self.proc.alive():
            os.kill(self.proc.pid, signal.SIGHUP)

    def start(self) -> Prometheus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.proc = Proc("prometheus", [
            "prometheus", f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.data_dir or self.workdir / 'data'}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address=127.0.0.1:{self.port}"],
            self.workdir / "prometheus.log").start()
        wait_for(lambda: requests.get(f"{self.url}/-/ready", timeout=2).ok, 60, "Prometheus")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


class PodReadier:
    """The test helper standing in for a kubelet: marks every Pod Running and Ready."""

    def __init__(self, core: Any, namespace: str) -> None:
        self.core, self.namespace = core, namespace
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> PodReadier:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with suppress(Exception):  # the apiserver may be restarting: try again
                self.mark_all()
            self._stop.wait(0.3)

    def mark_all(self) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for pod in self.core.list_namespaced_pod(self.namespace, _request_timeout=5).items:
            conds = {c.type: c.status for c in (pod.status.conditions or [])}
            if conds.get("Ready") == "True" or pod.metadata.deletion_timestamp is not None:
                continue
            body = {"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}}
            self.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, body,
                                                  _request_timeout=5)


def edgewise(args: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    """An `edgewise` subcommand (controller, replay) as a process of its own."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return Proc(args[0], [PYTHON, "-m", "edgewise.cli", *args], log, full_env).start()

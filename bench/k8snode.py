"""A real node for the e2e lab: containerd + runc (Debian) with a root, state and socket of its
own, the CNI bridge + host-local plugins, kubelet and kube-scheduler (built by
scripts/build-k8s.sh from the same source as the apiserver). Images come from oci-archive
tarballs (`scripts/build-image`) through `ctr -n k8s.io images import`; nothing is pulled.

Networking stays on the machine: pods live on a host-only bridge (no uplink, no masquerade), the
apiserver and Prometheus stay on 127.0.0.1, and the pods reach them the way kube-proxy would:
nftables DNATs the `kubernetes` Service IP (and the bridge gateway's ports) to 127.0.0.1, with
`route_localnet` on the bridge. Every process is stopped by its pid; the nft table, the bridge,
the mounts and the cgroups the node made are removed on stop. docs/controller.md says what the
node needed and why.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.k8slab import K8S_BIN, ControlPlane, Proc, free_port, wait_for

NODE = "edgewise-node"
BRIDGE = "ewcni0"
SUBNET = "10.213.0.0/24"
GATEWAY = "10.213.0.1"
SERVICE_IP = "10.0.0.1"  # the `kubernetes` Service: first IP of the lab's service range
NFT_TABLE = "edgewise_lab"
POD_LOGS = Path("/var/log/pods")
NETNS_DIR = Path("/run/netns")  # where the CRI pins each pod sandbox's network namespace


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


@dataclass
class Containerd:
    workdir: Path
    sandbox_image: str
    proc: Proc | None = None
    runtime_lines: list[str] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd.sock"

    def start(self) -> Containerd:
        d = self.workdir
        (d / "cni").mkdir(parents=True, exist_ok=True)
        cri = '[plugins."io.containerd.grpc.v1.cri"]'
        (d / "config.toml").write_text("\n".join([
            "version = 2", f'root = "{d / "root"}"', f'state = "{d / "state"}"',
            "[grpc]", f'  address = "{self.socket}"',
            "[ttrpc]", f'  address = "{self.socket}.ttrpc"',
            "[debug]", '  level = "info"',
            '[plugins."io.containerd.internal.v1.opt"]', f'  path = "{d / "opt"}"',
            cri, f'  sandbox_image = "{self.sandbox_image}"',
            '  stream_server_address = "127.0.0.1"', '  stream_server_port = "0"',
            '  enable_selinux = false', '  disable_apparmor = true',
            # root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj (the sandbox's -998)
            # is EACCES, which runc reports as "can't get final child's PID from pipe: EOF"
            '  restrict_oom_score_adj = true',
            *self.runtime_lines,
            f"{cri[:-1]}.cni]", '  bin_dir = "/usr/lib/cni"', f'  conf_dir = "{d / "cni"}"',
            "", ]))
        (d / "cni" / "10-edgewise.conflist").write_text(json.dumps(cni_config(d / "ipam")))
        self.proc = Proc("containerd", ["containerd", "--config", str(d / "config.toml")],
                         d / "containerd.log").start()
        wait_for(lambda: self.ctr("version").returncode == 0, 30, "containerd")
        return self

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run("ctr", "-a", str(self.socket), "-n", "k8s.io", *args, check=False)

    def import_image(self, tarball: Path) -> None:
        out = self.ctr("images", "import", str(tarball))
        if out.returncode != 0:
            raise RuntimeError(f"ctr images import {tarball}: {out.stderr.strip()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        # The shims outlive containerd by design: note their pids (recorded in each task's
        # bundle) while containerd runs, kill the containers, stop containerd, then the shims.
        shims = _shim_pids(self.workdir)
        for task in self.ctr("tasks", "ls", "-q").stdout.split():
            self.ctr("tasks", "kill", "-a", "-s", "SIGKILL", task)
        time.sleep(1)
        self.proc.stop()
        for shim_pid in shims + _shim_pids(self.workdir):
            with suppress(ProcessLookupError):
                os.kill(shim_pid, signal.SIGKILL)
        _unmount_under(self.workdir)


def _shim_pids(workdir: Path) -> list[int]:
    pids = []
    for f in (workdir / "state").glob("io.containerd.runtime.v2.task/*/*/shim.pid"):
        with suppress(OSError, ValueError):
            pids.append(int(f.read_text().strip()))
    return pids


def _unmount_under(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for m in sorted((m for m in mounts if m.startswith(str(root))), key=len, reverse=True):
        _run("umount", "-l", m, check=False)


def cni_config(ipam_dir: Path) -> dict[str, Any]:
    """A host-only bridge: the gateway is the host, no masquerade, so no pod reaches outside."""
    return {"cniVersion": "0.4.0", "name": "edgewise", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
         "hairpinMode": True, "ipam": {"type": "host-local", "dataDir": str(ipam_dir),
                                       "ranges": [[{"subnet": SUBNET, "gateway": GATEWAY}]],
                                       "routes": [{"dst": "0.0.0.0/0"}]}}]}


def kubelet_config(workdir: Path, port: int, healthz_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": "127.0.0.1", "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "cgroupDriver": "cgroupfs", "failSwapOn": False,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True}},
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(workdir / "kubelet.crt"),
        "tlsPrivateKeyFile": str(workdir / "kubelet.key"),
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%",
                         "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False, "resolvConf": "/etc/resolv.conf",
        "nodeStatusUpdateFrequency": "2s", "syncFrequency": "5s",
        "fileCheckFrequency": "5s", "httpCheckFrequency": "5s",
    }


@dataclass
class Node:
    """containerd + kubelet + kube-scheduler joined to a lab ControlPlane."""

    workdir: Path
    control_plane: ControlPlane
    sandbox_tarball: Path
    sandbox_image: str
    host_ports: list[int] = field(default_factory=list)  # gateway:P -> 127.0.0.1:P for pods
    procs: dict[str, Proc] = field(default_factory=dict)
    containerd: Containerd | None = None
    started_seconds: float = 0.0  # start() returned; the caller adds the wait for Ready
    t0: float = 0.0
    _logs_before: set[str] = field(default_factory=set)
    _netns_before: set[str] = field(default_factory=set)

    def start(self) -> Node:
        self.t0 = t0 = time.monotonic()
        self._logs_before = set(os.listdir(POD_LOGS)) if POD_LOGS.is_dir() else set()
        self._netns_before = set(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else set()
        d = self.workdir
        d.mkdir(parents=True, exist_ok=True)
        self.containerd = Containerd(d / "containerd", self.sandbox_image).start()
        self.containerd.import_image(self.sandbox_tarball)
        self.route_to_host()
        self._serving_cert()
        port, healthz = free_port(), free_port()
        (d / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(d, port, healthz)))
        self.procs["kubelet"] = Proc("kubelet", [
            str(K8S_BIN / "kubelet"), "--config", str(d / "kubelet.yaml"),
            "--kubeconfig", str(self.control_plane.node_kubeconfig),
            "--container-runtime=remote",
            f"--container-runtime-endpoint=unix://{self.containerd.socket}",
            "--root-dir", str(d / "kubelet"), "--hostname-override", NODE,
            "--node-ip", GATEWAY, "--v=1"], d / "kubelet.log").start()
        self.procs["scheduler"] = Proc("scheduler", [
            str(K8S_BIN / "kube-scheduler"), "--kubeconfig", str(self.control_plane.kubeconfig),
            "--leader-elect=false", "--port=0", "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}"], d / "scheduler.log").start()
        self.started_seconds = time.monotonic() - t0
        return self

    def import_image(self, tarball: Path) -> None:
        assert self.containerd is not None
        self.containerd.import_image(tarball)

    def _serving_cert(self) -> None:
        d = self.workdir
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={NODE}", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(d / "kubelet.key"), "-out", str(d / "kubelet.crt"))

    def route_to_host(self) -> None:
        """The bridge (made here; CNI's bridge plugin adopts it) and the DNAT of the Service IP
        and the gateway's ports to 127.0.0.1, as kube-proxy would for a node-local apiserver."""
        _run("ip", "link", "delete", BRIDGE, check=False)
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "addr", "add", f"{GATEWAY}/{SUBNET.split('/')[1]}", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
        _run("sysctl", "-w", f"net.ipv4.conf.{BRIDGE}.route_localnet=1")
        rules = [f'iifname "{BRIDGE}" ip daddr {SERVICE_IP} tcp dport 443 '
                 f"dnat to 127.0.0.1:{self.control_plane.api_port}"]
        rules += [f'iifname "{BRIDGE}" ip daddr {GATEWAY} tcp dport {p} dnat to 127.0.0.1:{p}'
                  for p in self.host_ports]
        script = "\n".join([f"table ip {NFT_TABLE} {{", "  chain pod_dnat {",
                            "    type nat hook prerouting priority dstnat; policy accept;",
                            *(f"    {r}" for r in rules), "  }",
                            # nothing from the pods is routed off the bridge (no uplink)
                            "  chain pod_forward {",
                            "    type filter hook forward priority filter; policy accept;",
                            f'    iifname "{BRIDGE}" oifname != "{BRIDGE}" drop',
                            f'    oifname "{BRIDGE}" iifname != "{BRIDGE}" drop', "  }",
                            "}", ""])
        _run("nft", "delete", "table", "ip", NFT_TABLE, check=False)
        subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)

    def stop(self) -> None:
        for name in ("scheduler", "kubelet"):
            if name in self.procs:
                self.procs[name].stop()
        if self.containerd is not None:
            self.containerd.stop()
        _unmount_under(self.workdir)
        # containerd is gone before the kubelet could tear the sandboxes down: delete the
        # namespaces this node's pods got (which removes their veth pairs), none from before
        for name in (set(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else set()) - \
                self._netns_before:
            if name.startswith("cni-"):
                _run("ip", "netns", "delete", name, check=False)
        _run("nft", "delete", "table", "ip", NFT_TABLE, check=False)
        _run("ip", "link", "delete", BRIDGE, check=False)
        _remove_cgroups("kubepods")
        # kubelet 1.20 writes container logs to /var/log/pods (fixed); drop what this node wrote
        if POD_LOGS.is_dir():
            for name in set(os.listdir(POD_LOGS)) - self._logs_before:
                shutil.rmtree(POD_LOGS / name, ignore_errors=True)
        links = Path("/var/log/containers")
        for link in links.glob("*.log") if links.is_dir() else []:
            if link.is_symlink() and not link.exists() and str(POD_LOGS) in os.readlink(link):
                link.unlink()

    def ready(self, core: Any) -> bool:
        node = core.read_node(NODE, _request_timeout=5)
        return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def _remove_cgroups(name: str) -> None:
    for controller in Path("/sys/fs/cgroup").iterdir():
        top = controller / name
        if not top.is_dir():
            continue
        for sub in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if sub.is_dir():
                with suppress(OSError):
                    sub.rmdir()
        with suppress(OSError):
            top.rmdir()

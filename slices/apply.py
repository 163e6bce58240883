"""Apply: the only module that runs `wireguard-go`, `wg`, `ip`, `nft`, `tc`, `sysctl`, `ping`.

WireGuard itself: the kernel module when `ip link add ... type wireguard` works in the site's
namespace, wireguard-go otherwise; the choice is logged once per namespace (`wireguard_backend`).

It also sizes the daemon's data path (UDP socket buffers, tun txqueuelen): docs/slices.md has
the measurements behind that.

Thin by design: it observes (returning parsed values from `drift`) and executes the actions
`drift.diff` computed. Every wireguard-go it starts is recorded in a pid file and stopped by that
pid. Private keys are passed to `wg` only as a file path; command output is never logged.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from enum import Enum
from errno import EBADF
from functools import cache
from pathlib import Path

from slices import drift, qos
from slices.errors import ApplyError
from slices.model import QosProfile

log = logging.getLogger(__name__)
WG_SOCKET_DIR = Path("/var/run/wireguard")
MARK_RULE_PRIORITY = 100
# Data-path sizing for Debian bookworm's wireguard-go 0.0.20220316, which leaves its UDP sockets
# at net.core.rmem_default (208 KiB here) and its tun at txqueuelen 500. Upstream wireguard-go
# (>= 0.0.20230223, what scripts/setup installs) forces 7 MiB buffers on its own sockets; for
# older daemons we do the same from outside.
UDP_BUFFER_BYTES = 7 << 20
WG_TXQUEUELEN = 1000
_SO_SNDBUFFORCE, _SO_RCVBUFFORCE = 32, 33
_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture
_ENV = {**os.environ, "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}


class Backend(Enum):
    KERNEL = "kernel"
    USERSPACE = "wireguard-go"


def uapi_socket(ifname: str) -> Path:
    """wireguard-go's control socket for `ifname` (one directory for the whole host)."""
    return WG_SOCKET_DIR / f"{ifname}.sock"


def _claim_uapi_socket(path: Path) -> None:
    """Make sure the UAPI socket about to be waited for will be our daemon's own.

    wireguard-go's sockets live in one directory for the whole host, whatever the network
    namespace. A socket file left by a killed daemon would end the start-up wait before our
    daemon made its link (then `ip link set` finds no device), so a stale one is removed; one
    that still answers belongs to a live daemon serving the same name, which is refused.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except FileNotFoundError:
        return
    except ConnectionRefusedError:
        log.info("removing the stale wireguard-go socket %s", path)
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise ApplyError(f"{path.stem} is already served by another wireguard-go on this host "
                     f"({path} answers); interface names must be unique host-wide")


@cache
def wireguard_backend(netns: str | None = None) -> Backend:
    """The kernel module if a probe link of type wireguard can be made here, else wireguard-go."""
    probe = f"ewprobe{os.getpid() % 100000}"
    prefix = ["ip", "netns", "exec", netns] if netns else []
    made = subprocess.run([*prefix, "ip", "link", "add", probe, "type", "wireguard"],
                          capture_output=True, check=False).returncode == 0
    if made:
        subprocess.run([*prefix, "ip", "link", "del", probe], capture_output=True, check=False)
    backend = Backend.KERNEL if made else Backend.USERSPACE
    log.info("%s: WireGuard backend %s (%s)", netns or "host", backend.value,
             "kernel module loaded" if made else "no kernel module: userspace wireguard-go")
    return backend


@dataclass
class DaemonTable:
    """wireguard-go processes this Python process started, so it can reap them."""

    children: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class DaemonRecord:
    slice_name: str
    ifname: str
    pid: int


class Host:
    """One site's machine: the root namespace, or a named network namespace in tests."""

    def __init__(self, state_dir: Path, netns: str | None = None,
                 daemons: DaemonTable | None = None) -> None:
        self.state_dir = state_dir
        self.netns = netns
        self.daemons = daemons if daemons is not None else DaemonTable()
        self.firewall_available = shutil.which("nft") is not None

    # -- running commands ------------------------------------------------------------------
    def _argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> str:
        log.debug("run %s", " ".join(argv))
        proc = subprocess.run(self._argv(argv), input=stdin, capture_output=True, text=True,
                              env=_ENV, check=False)
        if check and proc.returncode != 0:
            raise ApplyError(f"`{' '.join(argv)}` failed ({proc.returncode}): "
                             f"{proc.stderr.strip()[:300]}")
        return proc.stdout

    # -- observing -------------------------------------------------------------------------
    def observe(self, ifname: str) -> drift.ObservedInterface:
        up, addresses = drift.parse_addresses(
            self.run(["ip", "-j", "addr", "show", "dev", ifname], check=False))
        if not self.running(ifname):
            return drift.ObservedInterface(ifname)
        dump = self.run(["wg", "show", ifname, "dump"], check=False)
        if not dump.strip():
            return drift.ObservedInterface(ifname)
        public_key, port, peers = drift.parse_wg_dump(dump)
        del dump  # its first line holds the private key
        routes, marked = drift.parse_routes(
            self.run(["ip", "-4", "-j", "route", "show", "table", "all", "dev", ifname],
                     check=False))
        return drift.ObservedInterface(ifname, True, up, public_key, port, peers, addresses,
                                       routes, marked)

    def firewall_digest(self, table: str) -> str | None:
        if not self.firewall_available:
            return None
        text = self.run(["nft", "list", "table", "inet", table], check=False)
        start = text.find('"ew:')
        return text[start + 1 : text.index('"', start + 1)] if start >= 0 else None

    def ping(self, address: str, count: int = 1, timeout_seconds: float = 1.0) -> bool:
        argv = ["ping", "-n", "-q", "-c", str(count), "-W", str(timeout_seconds), address]
        proc = subprocess.run(self._argv(argv), capture_output=True, check=False)
        return proc.returncode == 0

    # -- executing -------------------------------------------------------------------------
    def execute(self, action: drift.Action) -> None:
        log.info("%s: %s", self.netns or "host", _describe(action))
        match action:
            case drift.StartDaemon(ifname, slice_name):
                self.start_daemon(slice_name, ifname)
            case drift.SetDevice(ifname, key_path, port):
                self.run(["wg", "set", ifname, "private-key", str(key_path),
                          "listen-port", str(port)])
                self.size_udp_buffers(ifname)
            case drift.SetPeer(ifname, peer):
                allowed = ",".join(str(n) for n in peer.allowed_ips)
                self.run(["wg", "set", ifname, "peer", peer.public_key, "endpoint",
                          str(peer.endpoint), "allowed-ips", allowed,
                          "persistent-keepalive", str(peer.keepalive_seconds or "off")])
            case drift.RemovePeer(ifname, public_key):
                self.run(["wg", "set", ifname, "peer", public_key, "remove"])
            case drift.LinkUp(ifname):
                self.run(["ip", "link", "set", ifname, "up"])
                # wireguard-go (re)binds its sockets on the tun's up event, asynchronously.
                self.size_udp_buffers(ifname, wait_seconds=1.0)
            case drift.AddAddress(ifname, address):
                self.run(["ip", "addr", "add", str(address), "dev", ifname])
            case drift.DelAddress(ifname, address):
                self.run(["ip", "addr", "del", address, "dev", ifname])
            case drift.ReplaceRoute(ifname, network, table):
                extra = ["table", str(table)] if table is not None else []
                self.run(["ip", "route", "replace", str(network), "dev", ifname, *extra])
            case drift.DelRoute(ifname, network, table):
                extra = ["table", str(table)] if table is not None else []
                self.run(["ip", "route", "del", network, "dev", ifname, *extra])
            case drift.EnsureMarkRule(mark):
                self.ensure_mark_rule(mark)
            case drift.DropMarkRule(mark):
                self.delete_mark_rule(mark)

    def qos_rate_mbit(self, ifname: str) -> float | None:
        return qos.observed_rate_mbit(self.run(["tc", "class", "show", "dev", ifname],
                                               check=False))

    def set_qos(self, ifname: str, profile: QosProfile | None) -> None:
        for argv in qos.apply_argv(ifname, profile):
            self.run(argv, check=profile is not None)

    def ensure_mark_rule(self, mark: int) -> None:
        rules = self.run(["ip", "rule", "show", "fwmark", hex(mark)], check=False)
        if not rules.strip():
            self.run(["ip", "rule", "add", "fwmark", hex(mark), "lookup", str(mark),
                      "priority", str(MARK_RULE_PRIORITY)])

    def delete_mark_rule(self, mark: int) -> None:
        while self.run(["ip", "rule", "show", "fwmark", hex(mark)], check=False).strip():
            self.run(["ip", "rule", "del", "fwmark", hex(mark), "lookup", str(mark)])

    def enable_forwarding(self) -> bool:
        if self.run(["sysctl", "-n", "net.ipv4.ip_forward"]).strip() == "1":
            return False
        self.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        return True

    def load_firewall(self, table: str, ruleset: str) -> None:
        if self.firewall_available:
            reset = "".join(f"table {f} {table}\ndelete table {f} {table}\n"
                            for f in ("inet", "ip"))
            self.run(["nft", "-f", "-"], stdin=reset + ruleset)

    def delete_firewall(self, table: str) -> None:
        if self.firewall_available:
            for family in ("inet", "ip"):
                self.run(["nft", "delete", "table", family, table], check=False)

    # -- daemons ---------------------------------------------------------------------------
    def _pid_file(self, ifname: str) -> Path:
        return self.state_dir / "run" / f"{ifname}.json"

    def running(self, ifname: str) -> bool:
        """A kernel link we made, or a live wireguard-go of ours with its UAPI socket."""
        if self._backend_of(ifname) is Backend.KERNEL:
            return bool(self.run(["ip", "-o", "link", "show", "dev", ifname], check=False))
        return uapi_socket(ifname).exists() and self.pid_of(ifname) is not None

    def _backend_of(self, ifname: str) -> Backend:
        try:
            return Backend(json.loads(self._pid_file(ifname).read_text()).get(
                "backend", Backend.USERSPACE.value))
        except (OSError, ValueError):
            return Backend.USERSPACE

    def _record_daemon(self, slice_name: str, ifname: str, pid: int, backend: Backend) -> None:
        path = self._pid_file(ifname)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps({"slice": slice_name, "ifname": ifname, "pid": pid,
                                    "backend": backend.value}))

    def start_daemon(self, slice_name: str, ifname: str) -> int:
        """Bring up `ifname`: a kernel WireGuard link (pid 0) or a wireguard-go (its pid)."""
        self.stop_daemon(ifname)
        if wireguard_backend(self.netns) is Backend.KERNEL:
            self.run(["ip", "link", "add", ifname, "type", "wireguard"])
            self._record_daemon(slice_name, ifname, 0, Backend.KERNEL)
            return 0
        _claim_uapi_socket(uapi_socket(ifname))
        proc = subprocess.Popen(self._argv(["wireguard-go", "-f", ifname]), env=_ENV,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.daemons.children[proc.pid] = proc
        self._record_daemon(slice_name, ifname, proc.pid, Backend.USERSPACE)
        deadline = time.monotonic() + 5.0
        while not uapi_socket(ifname).exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop_daemon(ifname)
                raise ApplyError(f"wireguard-go for {ifname} did not start: is /dev/net/tun "
                                 "available and the name unique?")
            time.sleep(0.005)
        # tun devices default to 500 packets; bursts from TCP overflowed it (measured).
        self.run(["ip", "link", "set", ifname, "txqueuelen", str(WG_TXQUEUELEN)])
        return proc.pid

    def size_udp_buffers(self, ifname: str, size_bytes: int = UDP_BUFFER_BYTES,
                         wait_seconds: float = 0.0) -> int:
        """Force the UDP buffers of the daemon serving `ifname` up to `size_bytes`.

        Without it the receiving daemon's 208 KiB socket overflowed under one TCP flow
        (UdpRcvbufErrors == TCP retransmits). The socket is borrowed with pidfd_getfd, so only
        our daemon's sockets change, never the host-wide sysctls. Returns how many sockets were
        sized (waiting up to `wait_seconds` for the daemon to bind); failure only costs
        throughput, so it is logged, not raised.
        """
        pid = self.pid_of(ifname)
        if pid is None:
            return 0
        deadline = time.monotonic() + wait_seconds
        try:
            while not (sized := _force_udp_buffers(pid, size_bytes)) and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
        except OSError as exc:
            log.warning("could not size UDP buffers of %s (pid %d): %s", ifname, pid, exc)
            return 0
        return sized

    def records(self) -> tuple[DaemonRecord, ...]:
        directory = self.state_dir / "run"
        if not directory.is_dir():
            return ()
        found = []
        for path in sorted(directory.glob("*.json")):
            data = json.loads(path.read_text())
            found.append(DaemonRecord(data["slice"], data["ifname"], int(data["pid"])))
        return tuple(found)

    def pid_of(self, ifname: str) -> int | None:
        path = self._pid_file(ifname)
        if not path.exists():
            return None
        pid = int(json.loads(path.read_text())["pid"])
        return pid if _is_our_daemon(pid, ifname) else None

    def stop_daemon(self, ifname: str) -> None:
        """Stop the wireguard-go serving `ifname` by its recorded pid; the link goes with it."""
        pid = self.pid_of(ifname)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not self._wait_exit(pid, 3.0):
                os.kill(pid, signal.SIGKILL)
                self._wait_exit(pid, 3.0)
        self._pid_file(ifname).unlink(missing_ok=True)
        self.run(["ip", "link", "del", ifname], check=False)

    def _wait_exit(self, pid: int, timeout_seconds: float) -> bool:
        child = self.daemons.children.pop(pid, None)
        if child is not None:
            try:
                child.wait(timeout_seconds)
                return True
            except subprocess.TimeoutExpired:
                self.daemons.children[pid] = child
                return False
        deadline = time.monotonic() + timeout_seconds
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def _force_udp_buffers(pid: int, size_bytes: int) -> int:
    """SO_{RCV,SND}BUFFORCE on every UDP socket of `pid` smaller than `size_bytes`."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    sized = 0
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
            except OSError:
                continue  # closed meanwhile
            fd = libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                errno = ctypes.get_errno()
                if errno == EBADF:
                    continue  # closed meanwhile
                raise OSError(errno, f"pidfd_getfd: {os.strerror(errno)}")
            with socket.socket(fileno=fd) as sock:  # a duplicate: closing it is harmless
                if sock.type != socket.SOCK_DGRAM or \
                        sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                # getsockopt reports double the requested size (the kernel's bookkeeping).
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < 2 * size_bytes:
                    sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, size_bytes)
                    sock.setsockopt(socket.SOL_SOCKET, _SO_SNDBUFFORCE, size_bytes)
                sized += 1
    finally:
        os.close(pidfd)
    return sized


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _is_our_daemon(pid: int, ifname: str) -> bool:
    """True only for a live wireguard-go serving `ifname` (never signal a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _alive(pid) and b"wireguard-go" in cmdline[0] and ifname.encode() in cmdline


def _describe(action: drift.Action) -> str:
    """A log line for an action: names and public keys only, never key material."""
    if isinstance(action, drift.SetDevice):
        return f"set {action.ifname} key file {action.key_path.name} port {action.listen_port}"
    if isinstance(action, drift.SetPeer):
        peer = action.peer
        allowed = ",".join(str(n) for n in peer.allowed_ips) or "none"
        return f"peer {peer.site_id} ({peer.public_key[:8]}...) on {action.ifname}: {allowed}"
    return repr(action)

"""The per-site DNS forwarder: one dnsmasq in the site's namespace, restarted when its names
change, found again by its recorded pid (an agent restart adopts it), stopped by that pid.

The only module that starts dnsmasq. Its names come from `dns.records`; they are public data
(service names and overlay addresses), never key material.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from ipaddress import IPv4Address
from pathlib import Path

from slices import dns
from slices.errors import ApplyError

log = logging.getLogger(__name__)
LISTEN = IPv4Address("127.0.0.1")


class Resolver:
    def __init__(self, state_dir: Path, netns: str | None = None,
                 listen: IPv4Address = LISTEN) -> None:
        self.record_path = state_dir / "dns.json"
        self.netns = netns
        self.listen = listen

    def ensure(self, found: tuple[dns.Record, ...]) -> bool:
        """Serve exactly `found`; True when dnsmasq was (re)started."""
        argv = dns.dnsmasq_argv(found, self.listen)
        wanted = dns.digest(argv)
        current = self._record()
        if current is not None and current[1] == wanted and _is_dnsmasq(current[0]):
            return False
        self.stop()
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.record_path.write_text(json.dumps({"pid": proc.pid, "digest": wanted}))
        time.sleep(0.05)
        if proc.poll() is not None:
            self.record_path.unlink(missing_ok=True)
            raise ApplyError(f"dnsmasq for {self.netns or 'this site'} exited ({proc.returncode})"
                             f": is port 53 on {self.listen} free?")
        log.info("%s: dns forwarder serves %d slice names (pid %d)", self.netns or "host",
                 len(found), proc.pid)
        return True

    def pid(self) -> int | None:
        current = self._record()
        return current[0] if current is not None and _is_dnsmasq(current[0]) else None

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 3.0
            while _is_dnsmasq(pid) and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                time.sleep(0.01)
        self.record_path.unlink(missing_ok=True)

    def _record(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None
        return int(data["pid"]), str(data["digest"])


def _is_dnsmasq(pid: int) -> bool:
    """True only for a live dnsmasq (never signal a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z" and any(part.endswith(b"dnsmasq") for part in cmdline[:5])

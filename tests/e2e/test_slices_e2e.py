"""Slices end to end: four sites in network namespaces, real wireguard-go, packet capture.

Slice A: s1, s2, s3 full mesh (10.10.0.0/24). Slice B: s1 hub, s4 spoke (10.20.0.0/24).
Tests run in file order on one module-scoped lab; the fixture's finalizer stops every
wireguard-go by pid and deletes every namespace whatever happens.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from bench.netlab import Lab
from edgewise.cli import main as cli_main
from slices import keys
from slices.apply import UDP_BUFFER_BYTES, WG_TXQUEUELEN
from slices.model import TopologyKind, interface_name

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("wireguard-go") is None or shutil.which("wg") is None,
                       reason="needs wireguard-go and wg (scripts/apt-packages.txt)"),
]
SITES = ("s1", "s2", "s3", "s4")
PING_WAIT_SECONDS = 5.0  # wireguard-go peers on one loopback underlay answer within a second
A, B = "a", "b"
ADDR = {("a", "s1"): "10.10.0.1", ("a", "s2"): "10.10.0.2", ("a", "s3"): "10.10.0.3",
        ("b", "s1"): "10.20.0.1", ("b", "s4"): "10.20.0.2"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("slices")
    handler = logging.FileHandler(root / "agent.log")
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("slices")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    made = Lab(root)
    try:
        for site in SITES:
            made.add_site(site)
        made.registry.create_slice(A, IPv4Network("10.10.0.0/24"), TopologyKind.FULL_MESH)
        made.registry.create_slice(B, IPv4Network("10.20.0.0/24"), TopologyKind.HUB_AND_SPOKE,
                                   "s1")
        for slice_name, members in ((A, ("s1", "s2", "s3")), (B, ("s1", "s4"))):
            for site in members:
                key = keys.generate(made.site(site).state_dir, slice_name, 0)
                made.registry.join(slice_name, site, made.underlay[site], key.public_key)
        for site in SITES:
            made.agent(site).reconcile()
        yield made
    finally:
        pids = [r.pid for h in made.hosts.values() for r in h.records()]
        namespaces = list(made.namespaces)
        made.close()
        logger.removeHandler(handler)
        handler.close()
        assert all(not Path(f"/proc/{p}").exists() for p in pids), "wireguard-go left running"
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not any(ns in listed for ns in namespaces), "namespace left behind"


def test_apply_twice_changes_nothing(lab: Lab) -> None:
    for site in SITES:
        assert lab.agent(site).reconcile().changes == ()


def test_in_slice_ping_both_ways(lab: Lab) -> None:
    for src, dst, slc in (("s1", "s2", A), ("s2", "s1", A), ("s2", "s3", A), ("s3", "s2", A),
                          ("s1", "s3", A), ("s3", "s1", A), ("s1", "s4", B), ("s4", "s1", B)):
        assert lab.wait_ping(src, ADDR[(slc, dst)], PING_WAIT_SECONDS), \
            f"{src} -> {dst} in slice {slc}"


def test_data_path_is_sized(lab: Lab) -> None:
    """Each daemon's UDP sockets hold 7 MiB (not the 208 KiB default) and its tun queues 1000."""
    for site, host in lab.hosts.items():
        for record in host.records():
            link = json.loads(lab.exec(site, "ip", "-j", "link", "show", "dev", record.ifname))
            assert link[0]["txqlen"] == WG_TXQUEUELEN, record.ifname
            sockets = lab.exec(site, "ss", "-u", "-a", "-m", "-n", "-p")
            owned = [block for block in sockets.split("\nUNCONN")
                     if f"pid={record.pid}," in block]
            assert owned, f"no UDP socket of {record.ifname} (pid {record.pid})"
            for block in owned:
                size = int(block.split(",rb")[1].split(",")[0])
                assert size >= UDP_BUFFER_BYTES, f"{record.ifname}: rb{size}"


def test_no_reach_across_slices(lab: Lab) -> None:
    for address in ("10.10.0.1", "10.10.0.2", "10.10.0.3"):
        assert not lab.ping("s4", address), f"s4 reached {address}"
    for src in ("s2", "s3"):
        for address in ("10.20.0.1", "10.20.0.2"):
            assert not lab.ping(src, address), f"{src} reached {address}"


def test_tampered_spoke_cannot_route_through_hub(lab: Lab) -> None:
    """s4 widens its own AllowedIPs and route to slice A; the hub must not forward it."""
    iface = lab.agent("s4").host.records()[0].ifname
    hub_key = lab.registry.get_member(B, "s1").public_key
    lab.exec("s4", "wg", "set", iface, "peer", hub_key,
             "allowed-ips", "10.20.0.0/24,10.10.0.0/24")
    lab.exec("s4", "ip", "route", "add", "10.10.0.0/24", "dev", iface)
    counter_before = lab.exec("s1", "nft", "list", "ruleset")
    for address in ("10.10.0.1", "10.10.0.2", "10.10.0.3"):
        assert not lab.ping("s4", address), f"s4 reached {address} through the hub"
    assert counter_before
    lab.exec("s4", "ip", "route", "del", "10.10.0.0/24", "dev", iface)
    assert lab.agent("s4").reconcile().changed  # drift repaired: AllowedIPs back to slice B
    assert lab.agent("s4").reconcile().changes == ()


def test_peer_removed_by_hand_comes_back(lab: Lab) -> None:
    iface = next(r.ifname for r in lab.hosts["s1"].records() if r.slice_name == A)
    s2_key = lab.registry.get_member(A, "s2").public_key
    lab.exec("s1", "wg", "set", iface, "peer", s2_key, "remove")
    assert not lab.ping("s1", ADDR[(A, "s2")])
    changes = lab.agent("s1").reconcile().changes
    assert any(c.startswith("SetPeer") for c in changes)
    assert lab.wait_ping("s1", ADDR[(A, "s2")], PING_WAIT_SECONDS)


def test_underlay_capture_shows_only_wireguard(lab: Lab) -> None:
    pcap = lab.root / "underlay.pcap"
    ns = lab.hosts["s1"].netns or ""
    dump = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", "ul0", "-n", "-U",
                             "-w", str(pcap)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        assert lab.ping("s1", ADDR[(A, "s2")], count=5)
        assert lab.ping("s4", ADDR[(B, "s1")], count=3)
        server = subprocess.Popen(["ip", "netns", "exec", lab.hosts["s2"].netns or "", "iperf3",
                                   "-s", "-1", "-B", ADDR[(A, "s2")]],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            lab.exec("s1", "iperf3", "-c", ADDR[(A, "s2")], "-n", "2M")
            server.wait(10)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(5)
        time.sleep(0.5)
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
    text = subprocess.run(["tcpdump", "-r", str(pcap), "-n", "-q"], capture_output=True,
                          text=True, check=True).stdout
    ip_lines = [line for line in text.splitlines() if " IP " in line]
    ports = re.compile(r"\.(5[12]8[0-9]{2}) [>:]|\.(5[12]8[0-9]{2}):")
    assert len(ip_lines) > 20
    for line in ip_lines:
        assert "UDP" in line and ports.search(line), f"not WireGuard UDP: {line}"
        assert "ICMP" not in line and "tcp" not in line.lower()


def run_ping(lab: Lab, site: str, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", lab.hosts[site].netns or "", "ping", "-n",
                             "-i", "0.1", "-W", "1", address],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ping_counts(proc: subprocess.Popen[str]) -> tuple[int, int]:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def test_rotate_s2_under_ping_loses_nothing(lab: Lab, record_property: object) -> None:
    old_key = lab.registry.get_member(A, "s2").public_key
    stop = threading.Event()
    agents = [threading.Thread(target=lab.agent(s).run, args=(stop, 0.2)) for s in ("s1", "s3")]
    inbound = run_ping(lab, "s1", ADDR[(A, "s2")])
    outbound = run_ping(lab, "s2", ADDR[(A, "s3")])
    for thread in agents:
        thread.start()
    try:
        time.sleep(1.0)
        assert cli_main(["slice", "--registry", str(lab.registry.path), "rotate", A,
                         "--site", "s2", "--state-dir", str(lab.site("s2").state_dir),
                         "--netns", lab.hosts["s2"].netns or "", "--timeout", "30"]) == 0
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in agents:
            thread.join(10)
        sent_in, got_in = ping_counts(inbound)
        sent_out, got_out = ping_counts(outbound)
    print(f"\nrotation: s1->s2 {sent_in} sent, {sent_in - got_in} lost; "
          f"s2->s3 {sent_out} sent, {sent_out - got_out} lost")
    assert lab.registry.get_member(A, "s2").public_key != old_key
    assert sent_in >= 20 and got_in == sent_in, "s1->s2 lost packets during rotation"
    assert sent_out >= 20 and got_out == sent_out, "s2->s3 lost packets during rotation"
    for site in ("s1", "s2", "s3"):
        lab.agent(site).reconcile()
    assert [f.name for f in (lab.site("s2").state_dir / "keys").glob("a.*.key")] == ["a.1.key"]
    assert lab.wait_ping("s3", ADDR[(A, "s2")], PING_WAIT_SECONDS)


def test_status_shows_handshake_and_traffic(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["slice", "--registry", str(lab.registry.path), "status", A, "--site", "s1",
                     "--state-dir", str(lab.site("s1").state_dir),
                     "--netns", lab.hosts["s1"].netns or "", "--probe"])
    out = capsys.readouterr().out
    print(out)
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith(("s2 ", "s3 "))]
    assert len(rows) == 2
    assert all("s ago" in r and " ok " in r and "healthy" in r for r in rows)


def test_leave_revokes_within_one_reconcile(lab: Lab) -> None:
    assert lab.wait_ping("s3", ADDR[(A, "s1")], PING_WAIT_SECONDS)
    lab.registry.leave(A, "s3")
    for site in ("s1", "s2"):
        lab.agent(site).reconcile()
    # s3 has not reconciled: its interface and peers are still there, yet nothing gets through.
    assert any(r.slice_name == A for r in lab.hosts["s3"].records())
    for address in (ADDR[(A, "s1")], ADDR[(A, "s2")]):
        assert not lab.ping("s3", address), f"s3 still reaches {address} after leave"
    lab.agent("s3").reconcile()
    assert lab.hosts["s3"].records() == ()
    assert not list((lab.site("s3").state_dir / "keys").glob("a.*.key"))
    assert lab.wait_ping("s1", ADDR[(A, "s2")], PING_WAIT_SECONDS)


def test_private_keys_only_in_own_key_files(lab: Lab) -> None:
    key_files = {p: p.read_text().strip() for p in lab.root.rglob("*.key")}
    assert key_files
    for path, secret in key_files.items():
        assert path.stat().st_mode & 0o777 == 0o600, path
        for other in lab.root.rglob("*"):
            if other.is_file() and other != path:
                assert secret.encode() not in other.read_bytes(), f"key of {path} in {other}"
        for table in ("members", "observations", "slices"):
            assert secret not in repr(lab.registry.get_slice(B)), table
    log_text = (lab.root / "agent.log").read_text()
    assert "run wg set" in log_text  # the log is real and verbose
    assert not any(secret in log_text for secret in key_files.values())


def test_delete_removes_every_interface_and_address(lab: Lab) -> None:
    for slice_name in (A, B):
        assert cli_main(["slice", "--registry", str(lab.registry.path), "delete",
                         slice_name]) == 0
    for site in SITES:
        assert lab.agent(site).reconcile().changed or site == "s3"
    for site in SITES:
        links = lab.exec(site, "ip", "-o", "link")
        addrs = lab.exec(site, "ip", "-o", "addr")
        assert not re.search(r": ew[0-9a-f]{11}[:@]", links), links
        assert "10.10." not in addrs and "10.20." not in addrs, addrs
        assert "ew_" not in lab.exec(site, "nft", "list", "ruleset")
        assert "lookup" not in lab.exec(site, "ip", "rule").replace("lookup local", "").replace(
            "lookup main", "").replace("lookup default", "")
        assert lab.hosts[site].records() == ()


def handshaken(lab: Lab, site: str, ifname: str) -> bool:
    peers = lab.hosts[site].observe(ifname).peers.values()
    return bool(peers) and all(p.latest_handshake_epoch > 0 for p in peers)


def test_crossed_first_handshakes_are_repaired(tmp_path: Path) -> None:
    """A relay makes both sites' first initiations cross; WireGuard alone would wait 5 s."""
    crossed = Lab(tmp_path)
    ports = {"x1": 51830, "x2": 51831}
    ifnames = {site: interface_name("x", site, 0) for site in ports}
    relay: subprocess.Popen[str] | None = None
    stop = threading.Event()
    loops: list[threading.Thread] = []
    try:
        for site in (*ports, "xr"):
            crossed.add_site(site)
        crossed.registry.create_slice("x", IPv4Network("10.40.0.0/24"), TopologyKind.FULL_MESH)
        for site, port in ports.items():
            key = keys.generate(crossed.site(site).state_dir, "x", 0)
            crossed.registry.join("x", site, crossed.underlay["xr"], key.public_key, port)
        relay = subprocess.Popen(
            ["ip", "netns", "exec", crossed.hosts["xr"].netns or "", sys.executable,
             str(Path(__file__).with_name("crossing_relay.py")), str(crossed.underlay["xr"]),
             str(ports["x1"]), str(crossed.underlay["x1"]), str(ports["x2"]),
             str(crossed.underlay["x2"])], stdout=subprocess.PIPE, text=True)
        assert relay.stdout is not None and relay.stdout.readline().strip() == "ready"
        agents = {site: crossed.agent(site) for site in ports}
        loops = [threading.Thread(target=a.run, args=(stop,)) for a in agents.values()]
        started = time.monotonic()
        for loop in loops:
            loop.start()
        while time.monotonic() - started < 10 and not all(
                handshaken(crossed, site, ifname) for site, ifname in ifnames.items()):
            time.sleep(0.05)
        seconds = time.monotonic() - started
        smaller = min(ports, key=lambda s: crossed.registry.get_member("x", s).public_key)
    finally:
        stop.set()
        for loop in loops:
            loop.join(10)
        if relay is not None:
            relay.terminate()
            relay.wait(5)
        crossed.close()
    print(f"\ncrossed first handshakes: both sides hand-shaken after {seconds:.2f} s")
    assert {s: a.crossings_repaired for s, a in agents.items()} == {
        s: int(s == smaller) for s in ports}
    assert seconds < 4.0, "the crossing waited for WireGuard's 5 s handshake retry"


def test_cleanup_even_when_the_test_fails(tmp_path: Path) -> None:
    """A failure mid-test still stops wireguard-go by pid and deletes the namespaces."""
    small = Lab(tmp_path)
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="simulated failure"):
        try:
            for site in ("x1", "x2"):
                small.add_site(site)
            small.registry.create_slice("c", IPv4Network("10.30.0.0/24"), TopologyKind.FULL_MESH)
            for site in ("x1", "x2"):
                key = keys.generate(small.site(site).state_dir, "c", 0)
                small.registry.join("c", site, small.underlay[site], key.public_key)
                small.agent(site).reconcile()
            pids = [r.pid for h in small.hosts.values() for r in h.records()]
            raise RuntimeError("simulated failure")
        finally:
            namespaces = list(small.namespaces)
            small.close()
    assert len(pids) == 2
    assert all(not Path(f"/proc/{p}").exists() for p in pids)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in namespaces)

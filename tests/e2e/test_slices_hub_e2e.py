"""Slices through a hub: the registry is the real kube-apiserver, sites are separate machines.

The hub (etcd + kube-apiserver) runs in the lab's bridge namespace and listens only on
192.0.2.1:6443 there. Four sites, each a network namespace with its own agent process
(`edgewise slice --hub-config SITE.kubeconfig reconcile --loop`), its own ServiceAccount token
and its own RBAC, reach it over their veths. Slice A: s1, s2, s3 full mesh, capped at 50 Mbit/s;
slice B: s1 hub, s4 spoke, uncapped. Tests run in file order on one module-scoped lab; the
finalizer stops every process it started by pid and deletes every namespace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from bench.hublab import API_PORT, HUB_ADDRESS, HubLab, NetnsThread
from bench.k8slab import K8S_BIN
from slices.errors import ForbiddenError
from slices.model import TopologyKind

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(not (K8S_BIN / "kube-apiserver").exists(),
                       reason=f"needs the control plane in {K8S_BIN} (scripts/build-k8s.sh)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in
                           ("wireguard-go", "wg", "dnsmasq", "dig", "iperf3", "etcd")),
                       reason="needs wireguard-go, wg, dnsmasq, dig, iperf3, etcd "
                              "(scripts/apt-packages.txt)"),
]
SITES = ("s1", "s2", "s3", "s4")
A, B = "a", "b"
CAP_MBIT = 50
MEMBERS = {A: ("s1", "s2", "s3"), B: ("s1", "s4")}


def hub_registry(lab: HubLab, site: str | None = None):  # type: ignore[no-untyped-def]
    from slices.hub import HubRegistry

    path = lab.admin_kubeconfig if site is None else lab.site_kubeconfig(site)
    return HubRegistry.from_kubeconfig(str(path))


def join(lab: HubLab, slice_name: str, site: str, *extra: str) -> str:
    return lab.cli(site, "join", slice_name, "--site", site, "--state-dir",
                   str(lab.site(site).state_dir), "--endpoint", str(lab.underlay[site]),
                   "--no-apply", *extra)


def member(lab: HubLab, slice_name: str, site: str) -> Any:
    return lab.admin.call(lambda: hub_registry(lab).get_member(slice_name, site))


def overlay(lab: HubLab, slice_name: str, site: str) -> str:
    return str(member(lab, slice_name, site).overlay_ip)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubLab]:
    from slices.hub_admin import HubAdmin
    from slices.hub_client import api_client

    made = HubLab(tmp_path_factory.mktemp("hub"))
    try:
        for site in SITES:
            made.add_site(site)
        made.start_hub()
        # the administrator's commands, once each by the CLI, the rest through the API
        made.admin_cli("hub-install")
        made.admin_cli("create", A, "--cidr", "10.10.0.0/24", "--qos-mbit", str(CAP_MBIT))
        made.admin_cli("hub-add-site", "s1", "--server", made.server, "--out",
                       str(made.site_kubeconfig("s1")))
        made.admin_cli("admit", A, "--site", "s1")

        def setup() -> None:
            reg = hub_registry(made)
            reg.create_slice(B, IPv4Network("10.20.0.0/24"), TopologyKind.HUB_AND_SPOKE, "s1")
            admin = HubAdmin(api_client(str(made.admin_kubeconfig)))
            for slice_name, sites in (*MEMBERS.items(), (A, ("s4",))):
                for site in sites:
                    admin.admit(slice_name, site)
        made.admin.call(setup)
        for site in SITES:
            if site != "s1":
                made.onboard(site)
            made.start_agent(site)
        failed: list[str] = []

        def join_or_record(slice_name: str, site: str) -> None:
            try:
                join(made, slice_name, site)
            except Exception as exc:  # noqa: BLE001 (each join's error, asserted below)
                failed.append(f"{site} joining {slice_name}: {exc}")

        joins = [threading.Thread(target=join_or_record, args=(s, site))
                 for s, sites in MEMBERS.items() for site in sites]
        for thread in joins:  # concurrent joins: the address pool's resourceVersion decides
            thread.start()
        for thread in joins:
            thread.join(60)
        assert not failed, f"concurrent joins failed: {failed}"
        yield made
    finally:
        pids = [r.pid for h in made.hosts.values() for r in h.records()]
        namespaces = list(made.namespaces)
        made.close()
        # the agents started these daemons and are gone: init reaps them, a zombie is stopped
        assert all(not _alive(p) for p in pids), "wireguard-go left running"
        assert all(not p.alive() for p in (*made.agents.values(), *made.procs.values()))
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not any(ns in listed for ns in namespaces), "namespace left behind"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_joins_got_distinct_addresses_from_the_pool(lab: HubLab) -> None:
    addresses = {s: overlay(lab, A, s) for s in MEMBERS[A]}
    assert sorted(addresses.values()) == ["10.10.0.1", "10.10.0.2", "10.10.0.3"]
    assert sorted(overlay(lab, B, s) for s in MEMBERS[B]) == ["10.20.0.1", "10.20.0.2"]
    # s1 joined both slices at once: its listen-ports ConfigMap's resourceVersion decides
    ports = sorted(member(lab, slc, "s1").endpoint.port for slc in (A, B))
    assert ports == [51820, 51821], ports


def test_one_site_joining_four_slices_at_once_gets_four_ports(lab: HubLab) -> None:
    """Four joins of one site released together (a barrier): four distinct listen ports; after
    leaving one, the next join takes the freed port, and deleting a slice frees its port too."""
    import base64

    from slices.hub_admin import HubAdmin
    from slices.hub_client import api_client

    names = [f"p{i}" for i in range(4)]
    key = base64.b64encode(bytes(range(32))).decode()

    def setup() -> None:
        admin = HubAdmin(api_client(str(lab.admin_kubeconfig)))
        admin.onboard_site("ports", lab.server)
        for i, name in enumerate(names):
            hub_registry(lab).create_slice(name, IPv4Network(f"10.4{i}.0.0/24"),
                                           TopologyKind.FULL_MESH, None)
            admin.admit(name, "ports")
    lab.admin.call(setup)
    barrier = threading.Barrier(len(names))
    got: dict[str, int] = {}

    def join_one(name: str) -> None:
        registry = hub_registry(lab)
        barrier.wait(10)
        got[name] = registry.join(name, "ports", IPv4Address(HUB_ADDRESS), key).endpoint.port

    def joined_together() -> None:
        threads = [threading.Thread(target=join_one, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    lab.admin.call(joined_together)
    assert sorted(got.values()) == [51820, 51821, 51822, 51823], got
    freed = got["p1"]

    def leave_then_rejoin() -> tuple[int, int]:
        registry = hub_registry(lab)
        registry.leave("p1", "ports")
        again = registry.join("p1", "ports", IPv4Address(HUB_ADDRESS), key).endpoint.port
        registry.delete_slice("p2")
        registry.create_slice("p2", IPv4Network("10.42.0.0/24"), TopologyKind.FULL_MESH, None)
        HubAdmin(api_client(str(lab.admin_kubeconfig))).admit("p2", "ports")
        return again, registry.join("p2", "ports", IPv4Address(HUB_ADDRESS), key).endpoint.port
    try:
        assert lab.admin.call(leave_then_rejoin) == (freed, got["p2"])
    finally:
        lab.admin.call(lambda: [hub_registry(lab).delete_slice(n) for n in names])


def test_sites_are_separate_agents_and_the_hub_listens_only_in_its_namespace(
        lab: HubLab) -> None:
    netns_of = {s: os.readlink(f"/proc/{p.pid}/ns/net") for s, p in lab.agents.items()}
    assert len(set(netns_of.values())) == 4 and os.readlink("/proc/self/ns/net") not in \
        netns_of.values()
    tokens = {lab.site_kubeconfig(s).read_text().split("token: ")[1] for s in SITES}
    assert len(tokens) == 4
    listening = lab.exec("s1", "ss", "-H", "-ltn")  # nothing of the hub on a site
    assert str(API_PORT) not in listening
    hub = subprocess.run(["ip", "netns", "exec", lab.bridge_ns, "ss", "-H", "-ltn"],
                         capture_output=True, text=True, check=True).stdout
    bound = {line.split()[3] for line in hub.splitlines()}
    assert f"{HUB_ADDRESS}:{API_PORT}" in bound
    assert all(a.startswith((f"{HUB_ADDRESS}:", "127.0.0.1:")) for a in bound), bound
    root = subprocess.run(["ss", "-H", "-ltn"], capture_output=True, text=True).stdout
    assert f":{API_PORT} " not in root


def test_reach_inside_each_slice_none_across(lab: HubLab) -> None:
    for src, dst, slc in (("s1", "s2", A), ("s2", "s3", A), ("s3", "s1", A), ("s1", "s4", B),
                          ("s4", "s1", B)):
        assert lab.wait_ping(src, overlay(lab, slc, dst), 30), f"{src} -> {dst} in {slc}"
    for address in ("10.10.0.1", "10.10.0.2", "10.10.0.3"):
        assert not lab.ping("s4", address), f"s4 reached {address}"
    for src in ("s2", "s3"):
        for address in ("10.20.0.1", "10.20.0.2"):
            assert not lab.ping(src, address), f"{src} reached {address}"


def test_members_report_their_handshakes_to_the_hub(lab: HubLab) -> None:
    def seen() -> dict[str, int]:
        return dict(lab.admin.call(lambda: hub_registry(lab).handshakes_seen_by(A, "s1")))
    deadline = time.monotonic() + 10
    while set(seen()) != {"s2", "s3"} and time.monotonic() < deadline:
        time.sleep(0.3)
    handshakes = seen()
    assert set(handshakes) == {"s2", "s3"}
    assert all(abs(time.time() - epoch) < 600 for epoch in handshakes.values())


def test_site_a_cannot_write_site_b_member(lab: HubLab) -> None:
    """s1's token reads s2's member (public data) but its updates get 403 from the apiserver."""
    from dataclasses import replace

    from slices.model import Endpoint

    before = lab.admin.call(lambda: hub_registry(lab).get_member(A, "s2"))
    in_s1 = NetnsThread(lab.site("s1").netns or "")
    try:
        def attempt() -> list[str]:
            reg = hub_registry(lab, "s1")
            own_key = reg.get_member(A, "s1").public_key
            refused = []
            for change in ({"public_key": own_key},
                           {"endpoint": Endpoint(lab.underlay["s1"], 51820)}):
                try:
                    reg._update_member(A, "s2", lambda m, c=change: replace(m, **c))
                except ForbiddenError as exc:
                    refused.append(str(exc))
            return refused
        refused = in_s1.call(attempt)
    finally:
        in_s1.close()
    assert len(refused) == 2 and all("403" in r for r in refused), refused
    assert lab.admin.call(lambda: hub_registry(lab).get_member(A, "s2")) == before


def test_underlay_carries_only_wireguard_and_tls_to_the_hub(lab: HubLab) -> None:
    pcap = lab.root / "underlay.pcap"
    dump = subprocess.Popen(["ip", "netns", "exec", lab.site("s1").netns or "", "tcpdump",
                             "-i", "ul0", "-n", "-U", "-w", str(pcap)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        assert lab.ping("s1", overlay(lab, A, "s2"), count=5)
        assert lab.ping("s4", overlay(lab, B, "s1"), count=3)
        time.sleep(1.5)  # an agent pass or two: hub traffic in the capture too
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
    text = subprocess.run(["tcpdump", "-r", str(pcap), "-n", "-q"], capture_output=True,
                          text=True, check=True).stdout
    lines = [line for line in text.splitlines() if " IP " in line]
    hub = [line for line in lines if f"{HUB_ADDRESS}.{API_PORT}" in line]
    wireguard = [line for line in lines if line not in hub]
    assert hub and len(wireguard) > 10
    ports = re.compile(r"\.(5[12]8[0-9]{2})[ :]")
    for line in wireguard:
        assert "UDP" in line and ports.search(line), f"not WireGuard UDP: {line}"
    for line in hub:
        assert "tcp" in line, f"hub traffic not on the apiserver's TLS port: {line}"
    raw = pcap.read_bytes()
    assert b"slicemembers" not in raw and b"publicKey" not in raw  # the hub API is encrypted


def dig(lab: HubLab, site: str, name: str) -> tuple[str, str]:
    out = lab.exec(site, "dig", "+time=1", "+tries=2", "@127.0.0.1", name, check=False)
    status = re.search(r"status: (\w+)", out)
    answer = lab.exec(site, "dig", "+short", "+time=1", "@127.0.0.1", name, check=False)
    return (status.group(1) if status else out), answer.strip()


def test_dns_resolves_inside_the_slice_nxdomain_outside(lab: HubLab) -> None:
    lab.cli("s2", "export", A, "--site", "s2", "--state-dir", str(lab.site("s2").state_dir),
            "--service", "inventory", "--port", "8080")
    name = "inventory.a.slice.local"
    address = overlay(lab, A, "s2")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
            dig(lab, s, name)[1] != address for s in ("s1", "s2", "s3")):
        time.sleep(0.3)
    for site in ("s1", "s2", "s3"):
        assert dig(lab, site, name) == ("NOERROR", address), site
    assert dig(lab, "s4", name)[0] == "NXDOMAIN"  # s4 is not in slice A
    assert dig(lab, "s1", "nothing.a.slice.local")[0] == "NXDOMAIN"


def iperf_mbit(lab: HubLab, server: str, client: str, address: str, port: int,
               seconds: int = 5) -> float:
    srv = subprocess.Popen(["ip", "netns", "exec", lab.site(server).netns or "", "iperf3", "-s",
                            "-1", "-B", address, "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while f"{address}:{port} " not in lab.exec(server, "ss", "-Hltn", check=False):
            assert srv.poll() is None and time.monotonic() < deadline, \
                f"iperf3 server in {server} never listened on {address}:{port}"
            time.sleep(0.1)
        out = json.loads(lab.exec(client, "iperf3", "-c", address, "-p", str(port), "-t",
                                  str(seconds), "-O", "1", "-J", check=False))
        assert "error" not in out, f"iperf3 {client} -> {server} {address}: {out['error']}"
        return float(out["end"]["sum_received"]["bits_per_second"]) / 1e6
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait(5)


def test_qos_cap_holds_and_does_not_starve_the_other_slice(lab: HubLab) -> None:
    """s1 sends on capped slice A (to s2) and uncapped slice B (to s4) at once, one link."""
    capped: dict[str, float] = {}
    thread = threading.Thread(target=lambda: capped.update(
        a=iperf_mbit(lab, "s2", "s1", overlay(lab, A, "s2"), 5301)))
    thread.start()
    other = iperf_mbit(lab, "s4", "s1", overlay(lab, B, "s4"), 5302)
    thread.join(30)
    print(f"\nqos: slice a (cap {CAP_MBIT}) {capped['a']:.1f} Mbit/s, slice b alongside "
          f"{other:.1f} Mbit/s")
    # the cap holds: never more than 10% over it. Below it is the machine, not the cap: both
    # flows go through userspace wireguard-go on two shared cores, and a fresh-clone CI run with
    # other work on them measured the capped slice at 42.7 Mbit/s (85% of its cap) beside 1,332
    # on the other; under 3/4 of the cap would be a cap that throttles too hard
    assert capped["a"] <= 1.1 * CAP_MBIT, "the slice went over its cap"
    assert capped["a"] >= 0.75 * CAP_MBIT, "the capped slice got well under its cap"
    assert other > 3 * CAP_MBIT, "the uncapped slice was starved"


def run_ping(lab: HubLab, site: str, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", lab.site(site).netns or "", "ping", "-n",
                             "-D", "-i", "0.1", "-W", "1", address],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


IN_FLIGHT_SEQS = 10  # the last second of probes at 10/s: still in flight when ping stops


def ping_counts(proc: subprocess.Popen[str]) -> tuple[int, int]:
    """(probes sent, answered) up to one second before the stop: a probe whose answer is
    still on its way when SIGINT ends ping is not a loss (a busy machine makes that likely).
    Lost probes are printed with the wall-clock time of the answer before them."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert match, out
    counted = int(match.group(1)) - IN_FLIGHT_SEQS
    stamps = {int(seq): float(t) for t, seq in re.findall(r"\[(\d+\.\d+)\].*icmp_seq=(\d+) ",
                                                          out)}
    lost = [seq for seq in range(1, counted + 1) if seq not in stamps]
    if lost:
        before = [max((t for q, t in stamps.items() if q < seq), default=0.0) for seq in lost]
        print(f"lost icmp_seq {lost} after answers at {[f'{t:.2f}' for t in before]}")
    return counted, counted - len(lost)


def test_hub_down_30s_traffic_flows_and_a_join_and_rotation_complete_after(
        lab: HubLab) -> None:
    """Hub stopped for 30 s: pings on both slices lose nothing; s4's join of slice A and s3's
    key rotation, both issued while it is down, complete after it returns (0 lost to s3)."""
    s3_key = lab.admin.call(lambda: hub_registry(lab).get_member(A, "s3")).public_key
    pings = [run_ping(lab, "s1", overlay(lab, A, "s2")),
             run_ping(lab, "s4", overlay(lab, B, "s1")),
             run_ping(lab, "s1", overlay(lab, A, "s3"))]
    pending: list[subprocess.Popen[str]] = []
    try:
        time.sleep(1.0)
        lab.stop_hub()
        down_at = time.monotonic()
        for site, command in (
                ("s4", ["join", A, "--endpoint", str(lab.underlay["s4"]), "--no-apply",
                        "--wait", "120"]),
                ("s3", ["rotate", A, "--timeout", "120"])):
            state = ["--site", site, "--state-dir", str(lab.site(site).state_dir)]
            pending.append(subprocess.Popen(
                ["ip", "netns", "exec", lab.site(site).netns or "", *lab.cli_argv(site),
                 *command[:2], *state, *command[2:]],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        time.sleep(30.0)
        assert all(p.poll() is None for p in pending), "gave up while the hub was down"
        lab.start_hub()
        print(f"\nhub down for {time.monotonic() - down_at:.1f} s")
        outputs = [p.communicate(timeout=120)[0] for p in pending]
        assert [p.returncode for p in pending] == [0, 0], outputs
        assert "retrying in" in outputs[0]
        time.sleep(1.0)
    finally:
        for proc in pending:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        counts = [ping_counts(p) for p in pings]
    report = next((line for line in outputs[1].splitlines() if "key generation" in line), "")
    print(f"pings during the outage (sent, received): {counts}; {report}")
    assert all(sent >= 300 and got == sent for sent, got in counts), counts
    for site in ("s1", "s4"):
        log = (lab.root / f"agent-{site}.log").read_text()
        assert "keeping the last applied config" in log, site
    assert lab.admin.call(lambda: hub_registry(lab).get_member(A, "s3")).public_key != s3_key
    s4_a = overlay(lab, A, "s4")
    assert s4_a == "10.10.0.4"
    assert lab.wait_ping("s1", s4_a, 30) and lab.wait_ping("s4", overlay(lab, A, "s1"), 10)


def test_rotation_through_the_hub_loses_no_ping(lab: HubLab) -> None:
    old_key = lab.admin.call(lambda: hub_registry(lab).get_member(A, "s2")).public_key
    inbound = run_ping(lab, "s1", overlay(lab, A, "s2"))
    outbound = run_ping(lab, "s2", overlay(lab, A, "s3"))
    try:
        time.sleep(1.0)
        out = lab.cli("s2", "rotate", A, "--site", "s2", "--state-dir",
                      str(lab.site("s2").state_dir), "--timeout", "60")
        print(f"\n{out}")
        time.sleep(1.5)
    finally:
        sent_in, got_in = ping_counts(inbound)
        sent_out, got_out = ping_counts(outbound)
    print(f"rotation: s1->s2 {sent_in} sent, {sent_in - got_in} lost; "
          f"s2->s3 {sent_out} sent, {sent_out - got_out} lost")
    assert lab.admin.call(lambda: hub_registry(lab).get_member(A, "s2")).public_key != old_key
    assert sent_in >= 20 and got_in == sent_in, "s1->s2 lost packets during rotation"
    assert sent_out >= 20 and got_out == sent_out, "s2->s3 lost packets during rotation"


def test_private_keys_never_reach_the_hub(lab: HubLab) -> None:
    secrets = [p.read_text().strip() for p in lab.root.rglob("*.key")
               if p.parent.name == "keys"]
    assert secrets

    def everything() -> str:
        reg = hub_registry(lab)
        return repr([reg._list(k) for k in ("Slice", "SliceMember", "SliceExport")])
    dumped = lab.admin.call(everything)
    assert "publicKey" in dumped
    assert not any(secret in dumped for secret in secrets)
    logs = "".join(p.read_text() for p in lab.root.glob("agent-*.log"))
    assert not any(secret in logs for secret in secrets)

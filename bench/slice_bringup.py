"""Slice benchmarks: bring-up time, overlay vs raw-veth throughput, 500-site render + IPAM.

    sudo python -m bench.slice_bringup [--sizes 2 4 8 16] [--repeat N] [--hub] [--json FILE]

Bring-up is measured from `create` to every peer of every site reporting a handshake, with
one agent per site running its loop in parallel (as `slice reconcile --loop 1` on separate
machines would), and counts the crossed first handshakes the agents repaired; `--repeat`
brings each size up N times in fresh labs and prints the median, the maximum and how many took
5 s or more (WireGuard's handshake retry). Throughput runs iperf3 (one TCP stream, 10 s after a
1 s omitted warm-up) between two sites over the slice and over the raw veth in the same run,
alternating, `--runs` times each; figures are medians. The headline ratio keeps the veth's
default offloads (TSO/GSO: 64 KB segments). When `ethtool` is installed a secondary figure
repeats the veth with tso/gso/gro off, labelled as such.

`--hub` adds the same bring-up through the hub registry (kube-apiserver in the lab's bridge
namespace, one token per site; `bench.hub_bringup`): `hub_bringup_seconds` (16 sites, median of
`--hub-repeat` runs, default 5) and `hub_join_p99_ms`, against the 16-site bring-up without the
hub measured in the same run when 16 is among `--sizes`. Every run records which WireGuard
implementation carried the slices (`wireguard_backend`).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from bench import hub_bringup
from bench.netlab import Lab
from slices import apply, ipam, keys, render, topology
from slices.model import Endpoint, Member, Slice, TopologyKind

TARGET_BRINGUP_16_SECONDS = 5.0
TARGET_THROUGHPUT_RATIO = 0.6
TARGET_RENDER_500_SECONDS = 1.0
STALL_SECONDS = 5.0  # WireGuard's handshake retry: a bring-up this slow waited for it


def bring_up(lab: Lab, count: int) -> tuple[float, int]:
    """Seconds until every site hand-shook with every peer, and crossings the agents repaired."""
    sites = [f"n{i}" for i in range(count)]
    for site in sites:
        lab.add_site(site)
    started = time.monotonic()
    lab.registry.create_slice("bench", IPv4Network("10.50.0.0/24"), TopologyKind.FULL_MESH)

    def join(site: str) -> None:
        key = keys.generate(lab.site(site).state_dir, "bench", 0)
        lab.registry.join("bench", site, lab.underlay[site], key.public_key)

    stop = threading.Event()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(join, sites))
        agents = [lab.agent(s) for s in sites]
        loops = [pool.submit(agent.run, stop) for agent in agents]
        try:
            _wait_for_handshakes(lab, sites)
        finally:
            stop.set()
            for loop in loops:
                loop.result()
    return time.monotonic() - started, sum(a.crossings_repaired for a in agents)


def _wait_for_handshakes(lab: Lab, sites: list[str]) -> None:
    slc = lab.registry.get_slice("bench")
    pending = {s: topology.plan_site(slc, s).interfaces[0] for s in sites}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for site, iface in list(pending.items()):
            seen = lab.hosts[site].observe(iface.ifname)
            if all(p.latest_handshake_epoch > 0 for p in seen.peers.values()) and \
                    len(seen.peers) == len(sites) - 1:
                del pending[site]
        time.sleep(0.02)
    if pending:
        raise RuntimeError(f"no handshake on {sorted(pending)} after 60 s")


def iperf_bits_per_second(lab: Lab, server: str, client: str, address: str) -> float:
    srv = subprocess.Popen(["ip", "netns", "exec", lab.hosts[server].netns or "", "iperf3",
                            "-s", "-1", "-B", address], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        out = lab.exec(client, "iperf3", "-c", address, "-t", "10", "-O", "1", "-J",
                       check=False)
        report = json.loads(out)
        if "error" in report:
            raise RuntimeError(f"iperf3 to {address}: {report['error']}")
        return float(report["end"]["sum_received"]["bits_per_second"])
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait(5)


def _gbit(values: list[float]) -> str:
    return (f"{statistics.median(values) / 1e9:.3f} Gbit/s "
            f"(min {min(values) / 1e9:.3f}, max {max(values) / 1e9:.3f}, n={len(values)})")


def throughput(lab: Lab, runs: int) -> dict[str, object]:
    """Slice vs raw veth between n0 and n1, alternating; the secondary no-offload figure last."""
    overlay_ip = str(lab.registry.get_member("bench", "n1").overlay_ip)
    raw_ip = str(lab.underlay["n1"])
    overlay: list[float] = []
    raw: list[float] = []
    for _ in range(runs):
        overlay.append(iperf_bits_per_second(lab, "n1", "n0", overlay_ip))
        raw.append(iperf_bits_per_second(lab, "n1", "n0", raw_ip))
    ratio = statistics.median(overlay) / statistics.median(raw)
    print(f"throughput, 1 TCP stream: slice {_gbit(overlay)}, raw veth {_gbit(raw)}", flush=True)
    print(f"  ratio {ratio:.3f} (target >= {TARGET_THROUGHPUT_RATIO})", flush=True)
    result: dict[str, object] = {
        "throughput_ratio": ratio,
        "throughput_slice_bits_per_second": overlay,
        "throughput_raw_bits_per_second": raw,
    }
    if shutil.which("ethtool"):
        for site in ("n0", "n1"):
            lab.exec(site, "ethtool", "-K", "ul0", "tso", "off", "gso", "off", "gro", "off")
        bare = [iperf_bits_per_second(lab, "n1", "n0", raw_ip) for _ in range(runs)]
        secondary = statistics.median(overlay) / statistics.median(bare)
        print(f"  secondary, NOT the headline: raw veth with tso/gso/gro off {_gbit(bare)}, "
              f"slice/that {secondary:.3f}", flush=True)
        result["throughput_raw_no_offload_bits_per_second"] = bare
        result["throughput_ratio_vs_raw_no_offload"] = secondary
    return result


def render_500() -> float:
    started = time.perf_counter()
    cidr = IPv4Network("10.60.0.0/22")
    addresses = ipam.allocate_many(cidr, 500)
    members = tuple(
        Member(f"site{i}", Endpoint(IPv4Address(int(IPv4Address("198.51.100.0")) + i % 250),
                                    51820 + i // 250),
               address, base64.b64encode(i.to_bytes(32, "big")).decode())
        for i, address in enumerate(addresses))
    slc = Slice("retail", cidr, TopologyKind.HUB_AND_SPOKE, "site0", members)
    texts = [render.render_config(iface, Path(f"/keys/{site}"))
             for site, plan in topology.plan_all(slc).items() for iface in plan.interfaces]
    assert len(texts) == 500
    return time.perf_counter() - started


def _hub(repeat: int, baseline: list[float] | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as root:
        runs, joins = hub_bringup.measure(Path(root), 16, repeat)
    median = statistics.median(runs)
    join_p99 = hub_bringup.p99(joins)
    print(f"hub bring-up at 16 sites: median {median:.2f} s of {len(runs)} (max {max(runs):.2f}"
          f" s; target <= {TARGET_BRINGUP_16_SECONDS}), join p99 {join_p99:.0f} ms "
          f"over {len(joins)} joins", flush=True)
    if baseline:
        print(f"  without the hub, same run: median {statistics.median(baseline):.2f} s; "
              f"ratio hub/none {median / statistics.median(baseline):.2f}", flush=True)
    return {"hub_bringup_seconds": median, "hub_bringup_runs_seconds": runs,
            "hub_join_p99_ms": join_p99, "hub_join_ms": joins}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--runs", type=int, default=3, help="iperf3 runs per path (median)")
    parser.add_argument("--repeat", type=int, default=1, help="bring-ups per size (fresh labs)")
    parser.add_argument("--hub", action="store_true", help="also bring 16 sites up by the hub")
    parser.add_argument("--hub-repeat", type=int, default=5, help="hub bring-ups (median)")
    args = parser.parse_args(argv)
    version = subprocess.run(["wireguard-go", "--version"], capture_output=True, text=True,
                             check=False).stdout.split("\n", 1)[0].strip()
    print(f"{version or 'wireguard-go: no version printed'}", flush=True)
    backend = apply.wireguard_backend()
    print(f"wireguard backend: {backend.value}", flush=True)
    result: dict[str, object] = {"wireguard_go_version": version,
                                 "wireguard_backend": backend.value}
    bringup: dict[str, list[float]] = {}
    repaired: dict[str, list[int]] = {}
    for count in args.sizes:
        runs = bringup.setdefault(str(count), [])
        crossings = repaired.setdefault(str(count), [])
        for run in range(args.repeat):
            with tempfile.TemporaryDirectory() as root:
                lab = Lab(Path(root))
                try:
                    seconds, repairs = bring_up(lab, count)
                    runs.append(seconds)
                    crossings.append(repairs)
                    print(f"bring-up {count:>2} sites: {seconds:.2f} s ({repairs} crossed "
                          "handshakes repaired)", flush=True)
                    if count == 2 and run == 0:
                        result.update(throughput(lab, args.runs))
                finally:
                    lab.close()
        if len(runs) > 1:
            stalls = sum(seconds >= STALL_SECONDS for seconds in runs)
            print(f"bring-up {count:>2} sites, {len(runs)} runs: median "
                  f"{statistics.median(runs):.2f} s, max {max(runs):.2f} s, {stalls} at or over "
                  f"{STALL_SECONDS:.0f} s, {sum(crossings)} crossed handshakes repaired",
                  flush=True)
    result["bringup_seconds"] = bringup
    result["crossings_repaired"] = repaired
    result["render_500_seconds"] = render_500()
    print(f"render + IPAM, 500-site hub-and-spoke: {result['render_500_seconds']:.3f} s "
          f"(target <= {TARGET_RENDER_500_SECONDS})")
    if "16" in bringup:
        print(f"bring-up at 16 sites: {statistics.median(bringup['16']):.2f} s (target <= "
              f"{TARGET_BRINGUP_16_SECONDS})")
    if args.hub:
        result.update(_hub(args.hub_repeat, bringup.get("16")))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Slice benchmarks: bring-up time, overlay vs raw-veth throughput, 500-site render + IPAM.

    sudo python -m bench.slice_bringup [--sizes 2 4 8 16] [--json FILE]

Bring-up is measured from `create` to every peer of every site reporting a handshake, with
one agent per site reconciling in parallel (as separate machines would). Throughput runs
iperf3 between two sites over the slice and over the raw veth in the same run.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from bench.netlab import Lab
from slices import ipam, keys, render, topology
from slices.model import Endpoint, Member, Slice, TopologyKind

TARGET_BRINGUP_16_SECONDS = 5.0
TARGET_THROUGHPUT_RATIO = 0.6
TARGET_RENDER_500_SECONDS = 1.0


def bring_up(lab: Lab, count: int) -> float:
    sites = [f"n{i}" for i in range(count)]
    for site in sites:
        lab.add_site(site)
    started = time.monotonic()
    lab.registry.create_slice("bench", IPv4Network("10.50.0.0/24"), TopologyKind.FULL_MESH)

    def join(site: str) -> None:
        key = keys.generate(lab.site(site).state_dir, "bench", 0)
        lab.registry.join("bench", site, lab.underlay[site], key.public_key)

    with ThreadPoolExecutor(count) as pool:
        list(pool.map(join, sites))
        list(pool.map(lambda s: lab.agent(s).reconcile(), sites))
    slc = lab.registry.get_slice("bench")
    pending = {s: topology.plan_site(slc, s).interfaces[0] for s in sites}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for site, iface in list(pending.items()):
            seen = lab.hosts[site].observe(iface.ifname)
            if all(p.latest_handshake_epoch > 0 for p in seen.peers.values()) and \
                    len(seen.peers) == count - 1:
                del pending[site]
        time.sleep(0.02)
    if pending:
        raise RuntimeError(f"no handshake on {sorted(pending)} after 60 s")
    return time.monotonic() - started


def iperf_bits_per_second(lab: Lab, server: str, client: str, address: str) -> float:
    srv = subprocess.Popen(["ip", "netns", "exec", lab.hosts[server].netns or "", "iperf3",
                            "-s", "-1", "-B", address], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        out = lab.exec(client, "iperf3", "-c", address, "-t", "3", "-J", check=False)
        report = json.loads(out)
        if "error" in report:
            raise RuntimeError(f"iperf3 to {address}: {report['error']}")
        return float(report["end"]["sum_received"]["bits_per_second"])
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait(5)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    result: dict[str, object] = {"bringup_seconds": {}}
    bringup: dict[str, float] = {}
    for count in args.sizes:
        with tempfile.TemporaryDirectory() as root:
            lab = Lab(Path(root))
            try:
                bringup[str(count)] = bring_up(lab, count)
                print(f"bring-up {count:>2} sites: {bringup[str(count)]:.2f} s", flush=True)
                if count == 2:
                    target = str(lab.registry.get_member("bench", "n1").overlay_ip)
                    overlay = iperf_bits_per_second(lab, "n1", "n0", target)
                    raw = iperf_bits_per_second(lab, "n1", "n0", str(lab.underlay["n1"]))
                    result["throughput_ratio"] = overlay / raw
                    print(f"throughput: slice {overlay / 1e9:.2f} Gbit/s, raw veth "
                          f"{raw / 1e9:.2f} Gbit/s, ratio {overlay / raw:.3f} "
                          f"(target >= {TARGET_THROUGHPUT_RATIO})", flush=True)
            finally:
                lab.close()
    result["bringup_seconds"] = bringup
    result["render_500_seconds"] = render_500()
    print(f"render + IPAM, 500-site hub-and-spoke: {result['render_500_seconds']:.3f} s "
          f"(target <= {TARGET_RENDER_500_SECONDS})")
    if "16" in bringup:
        print(f"bring-up at 16 sites: {bringup['16']:.2f} s (target <= "
              f"{TARGET_BRINGUP_16_SECONDS})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The host's own IPv4 routes, read from the kernel's table (/proc/net/route), no process run.

`slice create` refuses an overlay that overlaps one of them (see `ipam.check_not_host_route`).
"""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

ROUTE_TABLE = Path("/proc/net/route")


def parse_route_table(text: str) -> tuple[tuple[str, IPv4Network], ...]:
    """(interface, destination network) of each line of /proc/net/route (hex, host order)."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        ifname, dest_hex, mask_hex = fields[0], fields[1], fields[7]
        dest = IPv4Address(socket.inet_ntoa(struct.pack("<I", int(dest_hex, 16))))
        mask = IPv4Address(socket.inet_ntoa(struct.pack("<I", int(mask_hex, 16))))
        out.append((ifname, IPv4Network(f"{dest}/{mask}", strict=False)))
    return tuple(out)


def host_routes(path: Path = ROUTE_TABLE) -> tuple[tuple[str, IPv4Network], ...]:
    """The routes of this network namespace's main table (none where the file is absent)."""
    try:
        return parse_route_table(path.read_text())
    except OSError:
        return ()

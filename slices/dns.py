"""Service discovery over a slice: which names a site's DNS forwarder answers. Pure.

A site resolves `<service>.<slice>.slice.local` to the overlay address of the site that exported
the service, for the slices it belongs to only; every other name under `slice.local` is
NXDOMAIN (dnsmasq `--local`), so a site outside a slice learns nothing about it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address

from slices.model import ServiceExport, Slice

SLICE_DOMAIN = "slice.local"


@dataclass(frozen=True, order=True)
class Record:
    name: str
    address: IPv4Address
    port: int


def service_name(service: str, slice_name: str) -> str:
    return f"{service}.{slice_name}.{SLICE_DOMAIN}"


def records(slices: Iterable[Slice], exports: dict[str, tuple[ServiceExport, ...]]
            ) -> tuple[Record, ...]:
    """A-record data for every export of these slices whose exporter is still a member."""
    found: list[Record] = []
    for slc in slices:
        for export in exports.get(slc.name, ()):
            member = slc.member(export.site_id)
            if member is not None:
                found.append(Record(service_name(export.service, slc.name), member.overlay_ip,
                                    export.port))
    return tuple(sorted(found))


def dnsmasq_argv(found: tuple[Record, ...], listen: IPv4Address) -> list[str]:
    """dnsmasq in the foreground on `listen`:53, authoritative for slice.local, no upstream,
    no /etc/hosts, no /etc/dnsmasq.conf: it answers slice names and nothing else."""
    argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--no-poll", f"--local=/{SLICE_DOMAIN}/", "--bind-interfaces",
            f"--listen-address={listen}", "--port=53", "--pid-file=", "--log-facility=-"]
    for record in found:
        argv.append(f"--host-record={record.name},{record.address}")
        argv.append(f"--srv-host=_{record.name.split('.')[0]}._tcp."
                    f"{record.name.split('.', 1)[1]},{record.name},{record.port}")
    return argv


def digest(argv: list[str]) -> str:
    return hashlib.sha256("\0".join(argv).encode()).hexdigest()[:16]

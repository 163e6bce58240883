"""Overlay address management: slice CIDRs that never overlap, one address per member."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from slices.errors import AddressExhaustedError, AlreadyExistsError, ValidationError
from slices.model import validate_cidr


def parse_cidr(text: str) -> IPv4Network:
    try:
        network = IPv4Network(text, strict=True)
    except ValueError as exc:
        raise ValidationError(f"CIDR {text!r} is not an IPv4 network like 10.10.0.0/24") from exc
    return validate_cidr(network)


def check_not_host_route(cidr: IPv4Network, routes: Iterable[tuple[str, IPv4Network]]) -> None:
    """Refuse an overlay that overlaps one of the host's own routes (`(interface, network)`,
    the default route excluded): its `ip route replace` would take that traffic over."""
    for ifname, route in routes:
        if route.prefixlen and cidr.overlaps(route):
            raise ValidationError(f"CIDR {cidr} overlaps the host's route {route} on {ifname}: "
                                  "pick a range the host does not route")


def check_no_overlap(cidr: IPv4Network, existing: dict[str, IPv4Network]) -> None:
    """Raise AlreadyExistsError naming the slice whose CIDR overlaps `cidr`."""
    for name, other in sorted(existing.items()):
        if cidr.overlaps(other):
            raise AlreadyExistsError(
                f"CIDR {cidr} overlaps slice {name!r} ({other}): pick a disjoint range"
            )


def allocate(cidr: IPv4Network, used: Iterable[IPv4Address]) -> IPv4Address:
    """The lowest free host address in `cidr` (network and broadcast addresses excluded)."""
    taken = {int(a) for a in used}
    first, last = int(cidr.network_address) + 1, int(cidr.broadcast_address) - 1
    for value in range(first, last + 1):
        if value not in taken:
            return IPv4Address(value)
    raise AddressExhaustedError(f"slice CIDR {cidr} is full: widen it or remove a member")


def allocate_many(cidr: IPv4Network, count: int) -> tuple[IPv4Address, ...]:
    """`count` consecutive host addresses from the start of an empty `cidr`."""
    capacity = cidr.num_addresses - 2
    if count > capacity:
        raise AddressExhaustedError(f"slice CIDR {cidr} holds {capacity} sites, not {count}")
    base = int(cidr.network_address) + 1
    return tuple(IPv4Address(base + i) for i in range(count))

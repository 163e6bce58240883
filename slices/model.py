"""The slice domain model: frozen values, no I/O.

A slice joins the sites of one application through one WireGuard interface per site. Members
carry only public keys; private keys never leave the site that made them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from slices.errors import ValidationError

BASE_LISTEN_PORT = 51820
ROTATION_PORT_OFFSET = 1000
DEFAULT_KEEPALIVE_SECONDS = 25
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def free_listen_port(used: set[int]) -> int:
    """The first listen port from BASE_LISTEN_PORT that no other membership of the site has
    (a site's slices take consecutive ports; a rotation's is 1000 above, clear of them)."""
    port = BASE_LISTEN_PORT
    while port in used:
        port += 1
    return port


class TopologyKind(Enum):
    FULL_MESH = "full-mesh"
    HUB_AND_SPOKE = "hub-and-spoke"


class RotationPhase(Enum):
    """Make-before-break phases of one member's key rotation.

    NONE -> PREPARED (new interface and key live, peers hand-shake with it, no traffic)
    -> SWITCHED (the member sends by the new interface, copies to the old; peers unchanged)
    -> CUTOVER (peers move the member's AllowedIPs to the new key) -> NONE (old key gone).
    """

    NONE = "none"
    PREPARED = "prepared"
    SWITCHED = "switched"
    CUTOVER = "cutover"


def validate_name(kind: str, value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValidationError(
            f"{kind} {value!r} is invalid: use 1-32 lowercase letters, digits or '-'"
        )
    return value


def validate_public_key(value: str) -> str:
    if not isinstance(value, str) or not value.isascii() or not value.isprintable():
        raise ValidationError("public key must be 32 bytes of base64 (as `wg pubkey` prints); "
                              f"got {str(value)[:8]!r}...")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValidationError(f"public key {value[:8]}... is not base64") from exc
    if len(raw) != 32:
        raise ValidationError("public key must be 32 bytes of base64 (as `wg pubkey` prints)")
    return value


MIN_PREFIX_LEN = 8  # broader overlays would shadow large parts of the host's routing table


def validate_cidr(cidr: IPv4Network) -> IPv4Network:
    """A slice overlay: a routed private-sized network, never a default or near-default route."""
    if not isinstance(cidr, IPv4Network):
        raise ValidationError(f"CIDR {cidr!r} is not an IPv4 network like 10.10.0.0/24")
    if cidr.prefixlen == 0:
        raise ValidationError(f"CIDR {cidr} is the default route: a slice must not replace the "
                              "host's default route; use a private range like 10.10.0.0/24")
    if cidr.prefixlen < MIN_PREFIX_LEN:
        raise ValidationError(f"CIDR {cidr} is too broad (/{cidr.prefixlen}): use /"
                              f"{MIN_PREFIX_LEN} or narrower")
    if cidr.prefixlen > 30:
        raise ValidationError(f"CIDR {cidr} is too small: use /30 or larger")
    if cidr.is_loopback or cidr.is_multicast or cidr.is_link_local:
        raise ValidationError(f"CIDR {cidr} is a loopback, link-local or multicast range")
    return cidr


@dataclass(frozen=True)
class Endpoint:
    """Where a site's WireGuard listens on the underlay."""

    host: IPv4Address
    port: int

    def __post_init__(self) -> None:
        if not isinstance(self.host, IPv4Address):
            raise ValidationError(f"endpoint host {self.host!r} is not an IPv4 address")
        if self.host.is_unspecified or self.host.is_multicast:
            raise ValidationError(f"endpoint host {self.host} cannot be a peer's address")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535 - ROTATION_PORT_OFFSET:
            raise ValidationError(f"endpoint port {self.port!r} out of range "
                                  f"(1-{65535 - ROTATION_PORT_OFFSET})")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @staticmethod
    def parse(text: str, default_port: int | None = None) -> Endpoint:
        host, _, port = text.partition(":")
        try:
            address = IPv4Address(host)
            number = int(port) if port else default_port
        except ValueError as exc:
            raise ValidationError(f"endpoint {text!r} is not HOST[:PORT] (IPv4)") from exc
        if number is None:
            raise ValidationError(f"endpoint {text!r} needs a port")
        return Endpoint(address, number)


@dataclass(frozen=True)
class Member:
    """One site in one slice, as registered: endpoint, overlay address, public key(s)."""

    site_id: str
    endpoint: Endpoint
    overlay_ip: IPv4Address
    public_key: str
    generation: int = 0
    next_public_key: str | None = None
    phase: RotationPhase = RotationPhase.NONE

    def __post_init__(self) -> None:
        """Every field is checked here, so a member read from any registry (a file or a hub
        another party can write) can never smuggle text into a rendered config."""
        validate_name("site id", self.site_id)
        validate_public_key(self.public_key)
        if self.next_public_key is not None:
            validate_public_key(self.next_public_key)
        if not isinstance(self.overlay_ip, IPv4Address):
            raise ValidationError(f"site {self.site_id}: overlay address {self.overlay_ip!r} "
                                  "is not an IPv4 address")
        if not isinstance(self.generation, int) or self.generation < 0:
            raise ValidationError(f"site {self.site_id}: key generation {self.generation!r} "
                                  "must be a whole number >= 0")
        if not isinstance(self.phase, RotationPhase):
            raise ValidationError(f"site {self.site_id}: rotation phase {self.phase!r} unknown")

    @staticmethod
    def parse(site_id: str, host: object, port: object, overlay_ip: object, public_key: object,
              generation: object = 0, next_public_key: object = None,
              phase: object = "none") -> Member:
        """A member from stored text (a registry row, a hub object's spec): every field
        converted here, and anything malformed is a `ValidationError` naming the site and field."""
        try:
            endpoint = Endpoint(IPv4Address(str(host)), int(str(port)))
            overlay = IPv4Address(str(overlay_ip))
            gen = int(str(generation))
            rotation = RotationPhase(str(phase))
        except ValueError as exc:
            raise ValidationError(f"site {site_id}: stored member is malformed ({exc})") from exc
        if not isinstance(public_key, str) or not (
                next_public_key is None or isinstance(next_public_key, str)):
            raise ValidationError(f"site {site_id}: stored public key is not text")
        return Member(site_id, endpoint, overlay, public_key, gen, next_public_key, rotation)

    def port_for(self, generation: int) -> int:
        """Generations alternate between two ports so old and new interfaces coexist."""
        return self.endpoint.port + ROTATION_PORT_OFFSET * (generation % 2)

    def endpoint_for(self, generation: int) -> Endpoint:
        return Endpoint(self.endpoint.host, self.port_for(generation))


@dataclass(frozen=True)
class QosProfile:
    """A slice's bandwidth profile: each site's egress into the slice is capped at this rate
    (tc HTB on the site's slice interface), so one slice cannot starve another on a link."""

    rate_mbit: int

    def __post_init__(self) -> None:
        if not 1 <= self.rate_mbit <= 100_000:
            raise ValidationError(f"QoS rate {self.rate_mbit} Mbit/s out of range 1-100000")


@dataclass(frozen=True)
class ServiceExport:
    """A service one site offers to the rest of its slice, found as
    `<service>.<slice>.slice.local` (the MCS ServiceExport idea, per slice)."""

    slice_name: str
    site_id: str
    service: str
    port: int

    def __post_init__(self) -> None:
        validate_name("service name", self.service)
        if not 1 <= self.port <= 65535:
            raise ValidationError(f"service {self.service}: port {self.port} out of range")


@dataclass(frozen=True)
class Slice:
    name: str
    cidr: IPv4Network
    topology: TopologyKind
    hub: str | None = None
    members: tuple[Member, ...] = field(default=())
    qos: QosProfile | None = None

    def __post_init__(self) -> None:
        validate_name("slice name", self.name)
        if self.hub is not None:
            validate_name("hub site id", self.hub)
        validate_cidr(self.cidr)
        for m in self.members:
            if m.overlay_ip not in self.cidr:
                raise ValidationError(f"slice {self.name}: member {m.site_id} has overlay "
                                      f"address {m.overlay_ip}, outside the slice's {self.cidr}")
        if self.topology is TopologyKind.HUB_AND_SPOKE and not self.hub:
            raise ValidationError(f"slice {self.name}: hub-and-spoke needs --hub SITE")
        if self.topology is TopologyKind.FULL_MESH and self.hub:
            raise ValidationError(f"slice {self.name}: a full mesh has no hub")

    def member(self, site_id: str) -> Member | None:
        return next((m for m in self.members if m.site_id == site_id), None)


@dataclass(frozen=True)
class Peer:
    """One [Peer] entry as a site should see it."""

    site_id: str
    public_key: str
    endpoint: Endpoint
    allowed_ips: tuple[IPv4Network, ...]
    keepalive_seconds: int = DEFAULT_KEEPALIVE_SECONDS


@dataclass(frozen=True)
class SiteInterface:
    """One WireGuard interface a site runs for a slice (two only during a key rotation)."""

    slice_name: str
    site_id: str
    ifname: str
    generation: int
    listen_port: int
    address: IPv4Interface
    cidr: IPv4Network
    public_key: str
    primary: bool
    peers: tuple[Peer, ...]
    routes: tuple[IPv4Network, ...]
    forwarding: bool
    reply_mark: int | None


@dataclass(frozen=True)
class SitePlan:
    slice_name: str
    site_id: str
    cidr: IPv4Network
    interfaces: tuple[SiteInterface, ...]


def interface_name(slice_name: str, site_id: str, generation: int) -> str:
    """Unique per site and slice, <= 15 chars: wireguard-go's UAPI sockets share one directory
    (/var/run/wireguard) host-wide, so two sites of one name on one host collide (refused).
    """
    digest = hashlib.sha256(f"{slice_name}/{site_id}".encode()).hexdigest()[:10]
    return f"ew{digest}{generation % 2}"


def reply_mark(ifname: str) -> int:
    """A connmark/fwmark (also the routing table id) for replies leaving by `ifname`."""
    return 0x10000 + int(hashlib.sha256(ifname.encode()).hexdigest()[:4], 16)

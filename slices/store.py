"""The registry interface every slice component talks to, and nothing else.

Two adapters implement it: `slices.registry.Registry`, one embedded SQLite file (the single-host
default, `slice` commands without `--hub`), and `slices.hub.HubRegistry`, custom resources in a
hub cluster's Kubernetes API, where each site writes only its own member object. The agent, the
rotation and the CLI hold a `SliceRegistry`, so they run unchanged on either.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Protocol

from slices.model import Member, QosProfile, RotationPhase, ServiceExport, Slice, TopologyKind

Observations = dict[str, tuple[int, RotationPhase]]  # by site: (generation, phase) applied


class SliceRegistry(Protocol):
    # -- slices (an administrator's calls on the hub) ----------------------------------------
    def create_slice(self, name: str, cidr: IPv4Network, topology: TopologyKind,
                     hub: str | None = None, qos: QosProfile | None = None) -> Slice: ...

    def delete_slice(self, name: str) -> None: ...

    def slice_names(self) -> tuple[str, ...]: ...

    def get_slice(self, name: str) -> Slice: ...

    def slices_for_site(self, site_id: str) -> tuple[Slice, ...]: ...

    # -- members (a site's own calls) --------------------------------------------------------
    def join(self, slice_name: str, site_id: str, host: IPv4Address, public_key: str,
             port: int | None = None) -> Member: ...

    def leave(self, slice_name: str, site_id: str) -> None: ...

    def get_member(self, slice_name: str, site_id: str) -> Member: ...

    def begin_rotation(self, slice_name: str, site_id: str, next_public_key: str) -> Member: ...

    def switch(self, slice_name: str, site_id: str) -> None: ...

    def cut_over(self, slice_name: str, site_id: str) -> None: ...

    def finish_rotation(self, slice_name: str, site_id: str) -> None: ...

    def record_observations(self, slice_name: str, observer: str,
                            seen: Observations) -> None: ...

    def observations_of(self, slice_name: str, member: str) -> Observations: ...

    def record_handshakes(self, slice_name: str, observer: str,
                          handshakes: dict[str, int]) -> None:
        """The latest handshake (epoch seconds) `observer` saw with each peer site."""

    def handshakes_seen_by(self, slice_name: str, observer: str) -> dict[str, int]: ...

    # -- service discovery -------------------------------------------------------------------
    def export_service(self, export: ServiceExport) -> None: ...

    def exports_for(self, slice_name: str) -> tuple[ServiceExport, ...]: ...

"""The fleet: store edge clusters, cloud regions and the prices that weigh them.

Parsed once at the boundary (a YAML file or a mapping) into frozen pydantic models. Every error is
one line naming the field at fault, e.g. `topology 'fleet': stores[3] (store-004): cpu_millicores:
must be > 0`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from envs.dns_label import dns_label_problem
from envs.textfile import describe_yaml_error, read_text
from placement.errors import TopologyError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Location(_Frozen):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Wan(_Frozen):
    """A store's WAN link: round-trip time to each cloud region, bandwidth and availability."""

    rtt_ms: dict[str, float]
    bandwidth_mbps: float = Field(gt=0)
    availability: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _positive_rtts(self) -> Wan:
        for region, rtt in self.rtt_ms.items():
            if rtt <= 0:
                raise ValueError(f"rtt_ms[{region}] must be > 0, got {rtt}")
        return self


def _site_name(value: str) -> str:
    """Site names become cluster and file names (`manifests/<name>.yaml`): DNS-1123 labels."""
    problem = dns_label_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class Store(_Frozen):
    """A store's edge cluster. Capacities are what is allocatable to Edgewise's services."""

    name: str = Field(min_length=1)
    location: Location
    cpu_millicores: float = Field(gt=0)
    memory_mib: float = Field(gt=0)
    gpus: int = Field(default=0, ge=0)
    demand_rps: float = Field(gt=0, description="requests per second entering the app here")
    shopper_rtt_ms: float = Field(default=2.0, gt=0, description="shopper to the store cluster")
    wan: Wan

    @field_validator("name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        return _site_name(value)


class Region(_Frozen):
    """A cloud region. `gpu_hour_usd` is null when the region offers no GPUs."""

    name: str = Field(min_length=1)
    location: Location
    vcpu_hour_usd: float = Field(gt=0)
    memory_gib_hour_usd: float = Field(default=0.004, ge=0)
    gpu_hour_usd: float | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        return _site_name(value)

    @property
    def has_gpus(self) -> bool:
        return self.gpu_hour_usd is not None


class Economics(_Frozen):
    """Prices that turn edge hardware, latency, WAN bytes and outages into dollars per hour."""

    # Defaults are assumptions: a store's small boxes cost more per vCPU-hour than cloud capacity
    # (hardware amortised over a small fleet plus on-site operations), egress is of the order of
    # hyperscaler list prices, and a request a shopper waits 1 ms longer for is worth $0.02 per
    # million (so 100 ms on a million requests costs $2).
    edge_vcpu_hour_usd: float = Field(default=0.07, ge=0)
    edge_memory_gib_hour_usd: float = Field(default=0.006, ge=0)
    edge_gpu_hour_usd: float = Field(default=0.35, ge=0)
    latency_usd_per_million_request_ms: float = Field(default=0.02, ge=0)
    wan_egress_usd_per_gb: float = Field(default=0.09, ge=0)
    outage_usd_per_million_requests: float = Field(default=20.0, ge=0)
    wan_bandwidth_headroom: float = Field(default=0.8, gt=0, le=1)


class Topology(_Frozen):
    name: str = "fleet"
    economics: Economics = Economics()
    regions: tuple[Region, ...] = Field(min_length=1)
    stores: tuple[Store, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        _unique("regions", [r.name for r in self.regions])
        _unique("stores", [s.name for s in self.stores])
        clash = {r.name for r in self.regions} & {s.name for s in self.stores}
        if clash:
            raise ValueError(f"name {sorted(clash)[0]!r} is both a store and a region")
        regions = [r.name for r in self.regions]
        for i, store in enumerate(self.stores):
            missing = [r for r in regions if r not in store.wan.rtt_ms]
            unknown = sorted(set(store.wan.rtt_ms) - set(regions))
            if unknown:
                raise ValueError(
                    f"stores[{i}] ({store.name}): wan.rtt_ms names unknown region {unknown[0]!r} "
                    f"(known: {', '.join(regions)})"
                )
            if missing:
                raise ValueError(f"stores[{i}] ({store.name}): wan.rtt_ms has no entry for "
                                 f"region {missing[0]!r}")
        return self

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    @property
    def store_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stores)

    def store(self, name: str) -> Store:
        for s in self.stores:
            if s.name == name:
                return s
        raise TopologyError(f"topology {self.name!r}: unknown store {name!r} "
                            f"(known: {listing(self.store_names)})")

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise TopologyError(f"topology {self.name!r}: unknown region {name!r} "
                            f"(known: {', '.join(self.region_names)})")


def listing(names: tuple[str, ...], limit: int = 10) -> str:
    """`a, b, c` or, for a large fleet, the first `limit` names and how many more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... and {len(names) - limit} more"


def _unique(field: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{field}: duplicate name {n!r}")
        seen.add(n)


def _describe(raw: Any, loc: tuple[int | str, ...]) -> str:
    """`stores[3] (store-004).cpu_millicores` from a pydantic error location."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            parts[-1] = f"{parts[-1]}[{key}]" if parts else f"[{key}]"
            if isinstance(node, list) and key < len(node):
                node = node[key]
                if isinstance(node, Mapping) and "name" in node:
                    parts[-1] += f" ({node['name']})"
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, Mapping) else None
    return ".".join(parts)


def parse_topology(raw: Any, *, name: str = "fleet") -> Topology:
    """Validate a mapping (as loaded from YAML) into a Topology; errors are one line."""
    if not isinstance(raw, Mapping):
        raise TopologyError(f"topology {name!r}: expected a mapping with 'regions' and 'stores'")
    data = {"name": name, **raw}
    try:
        return Topology.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = _describe(data, tuple(err["loc"]))
        msg = str(err["msg"]).removeprefix("Value error, ")
        prefix = f"{where}: " if where else ""
        raise TopologyError(f"topology {data['name']!r}: {prefix}{msg}") from None


def load_topology(path: str | Path) -> Topology:
    p = Path(path)
    text = read_text(p, "topology file", TopologyError)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TopologyError(
            f"topology file {str(p)!r}: not valid YAML ({describe_yaml_error(e)})") from e
    return parse_topology(raw, name=p.stem)

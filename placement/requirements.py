"""Placement requirements, read from the service graph's `annotations.placement` mappings.

On a service:
    annotations:
      placement:
        max_rtt_ms: 20            # latency-critical: max RTT from the shopper to where it runs
        needs_gpu: true           # one whole GPU at a store; `gpus_per_rps` GPU-hours in cloud
        gpus_per_rps: 0.05
        pii_local: true           # PII must stay in store
        offline: true             # must keep working with the WAN down (callees follow: closure)
        cpu_base_millicores: 100  # resources: base + per request/s of this store's demand
        cpu_millicores_per_rps: 15
        memory_base_mib: 128
        memory_mib_per_rps: 4
On a call:
    annotations:
      placement: {kb_per_call: 8}  # bytes each call moves; chatty pairs pay per WAN crossing

Defaults when a key is absent (`DEFAULTS` below; docs/placement.md lists them too): CPU base
100 m; CPU per request/s the service graph's own `cpu_millicores_per_rps` (which itself defaults
to 90% of `cpu_request_millicores / capacity_rps`: a fully busy replica uses 90% of its request);
memory base 128 MiB and 4 MiB per request/s; 0.05 cloud GPU-hours per request/s for a GPU
service (a whole GPU at a store); 4 KB per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from envs.errors import GraphError
from envs.graph import ServiceGraph, load_graph, parse_graph
from envs.number import finite
from placement.errors import AppError

_SERVICE_KEYS = {
    "max_rtt_ms", "needs_gpu", "gpus_per_rps", "pii_local", "offline", "cpu_base_millicores",
    "cpu_millicores_per_rps", "memory_base_mib", "memory_mib_per_rps",
}
_CALL_KEYS = {"kb_per_call"}
DEFAULTS = {"cpu_base_millicores": 100.0, "memory_base_mib": 128.0, "memory_mib_per_rps": 4.0,
            "gpus_per_rps": 0.05, "kb_per_call": 4.0}


@dataclass(frozen=True)
class ServiceRequirement:
    name: str
    max_rtt_ms: float | None
    needs_gpu: bool
    gpus_per_rps: float
    pii_local: bool
    offline: bool
    cpu_base_millicores: float
    cpu_millicores_per_rps: float
    memory_base_mib: float
    memory_mib_per_rps: float


@dataclass(frozen=True)
class CallTraffic:
    caller: int
    callee: int
    fanout: float
    kb_per_call: float


@dataclass(frozen=True)
class App:
    """A service graph with its placement requirements, in the graph's service order."""

    graph: ServiceGraph
    requirements: tuple[ServiceRequirement, ...]
    calls: tuple[CallTraffic, ...]
    visit_ratios: tuple[float, ...]
    entry: int

    @property
    def names(self) -> tuple[str, ...]:
        return self.graph.names

    def index(self, service: str) -> int:
        if service not in self.names:
            raise AppError(f"app {self.graph.name!r}: unknown service {service!r} "
                           f"(known: {', '.join(self.names)})")
        return self.names.index(service)

    def offline_closure(self) -> tuple[tuple[int, int], ...]:
        """(j, k) pairs: offline service j calls k directly or transitively, so k must be local."""
        g = self.graph.digraph()
        pairs = []
        for j, req in enumerate(self.requirements):
            if req.offline:
                pairs += [(j, self.index(k)) for k in sorted(nx.descendants(g, req.name))]
        return tuple(pairs)


MAX_ANNOTATION = 1e9  # beyond it a requirement is a typo, and the solver's numbers overflow


def _number(where: str, key: str, raw: Any, *, positive: bool = False) -> float:
    return finite("", f"{where}: placement.{key}", raw, error=AppError,
                  above=0 if positive else None, minimum=None if positive else 0,
                  maximum=MAX_ANNOTATION)


def _default(where: str, block: Mapping[str, Any], key: str) -> float:
    return _number(where, key, block.get(key, DEFAULTS[key]))


def _flag(where: str, key: str, raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise AppError(f"{where}: placement.{key} must be true or false, got {raw!r}")
    return raw


def _block(where: str, annotations: Mapping[str, Any], known: set[str]) -> Mapping[str, Any]:
    raw = annotations.get("placement") or {}
    if not isinstance(raw, Mapping):
        raise AppError(f"{where}: annotations.placement must be a mapping, got {raw!r}")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AppError(f"{where}: unknown annotation placement.{unknown[0]} "
                       f"(known: {', '.join(sorted(known))})")
    return raw


def _requirement(graph: ServiceGraph, i: int) -> ServiceRequirement:
    svc = graph.services[i]
    where = f"service {svc.name!r}"
    p = _block(where, svc.annotations, _SERVICE_KEYS)
    rtt = p.get("max_rtt_ms")
    return ServiceRequirement(
        name=svc.name,
        max_rtt_ms=None if rtt is None else _number(where, "max_rtt_ms", rtt, positive=True),
        needs_gpu=_flag(where, "needs_gpu", p.get("needs_gpu", False)),
        gpus_per_rps=_default(where, p, "gpus_per_rps"),
        pii_local=_flag(where, "pii_local", p.get("pii_local", False)),
        offline=_flag(where, "offline", p.get("offline", False)),
        cpu_base_millicores=_default(where, p, "cpu_base_millicores"),
        cpu_millicores_per_rps=_number(where, "cpu_millicores_per_rps",
                                       p.get("cpu_millicores_per_rps", svc.cpu_millicores_per_rps)),
        memory_base_mib=_default(where, p, "memory_base_mib"),
        memory_mib_per_rps=_default(where, p, "memory_mib_per_rps"),
    )


def app_from_graph(graph: ServiceGraph) -> App:
    """Read placement annotations off a parsed graph; errors name the service or call."""
    reqs = tuple(_requirement(graph, i) for i in range(len(graph.services)))
    calls = []
    for c in graph.calls:
        where = f"call {c.caller}->{c.callee}"
        p = _block(where, c.annotations, _CALL_KEYS)
        calls.append(CallTraffic(graph.index(c.caller), graph.index(c.callee), c.fanout,
                                 _default(where, p, "kb_per_call")))
    visits = tuple(float(v) for v in np.asarray(graph.visit_ratios()))
    return App(graph, reqs, tuple(calls), visits, graph.index(graph.entry))


def parse_app(raw: Any, *, name: str = "app") -> App:
    try:
        graph = parse_graph(raw, name=name)
    except GraphError as e:
        raise AppError(str(e)) from e
    return app_from_graph(graph)


def load_app(source: str | Path) -> App:
    """An app file (a service graph YAML with placement annotations) or a built-in graph name."""
    try:
        graph = load_graph(source)
    except GraphError as e:
        raise AppError(str(e)) from e
    return app_from_graph(graph)

"""The service graph: services, their capacity and start-up, and the calls between them.

A graph is parsed once at the boundary (YAML or a mapping) into frozen dataclasses and a networkx
DiGraph, and validated: every error names the service and the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import yaml

from envs.errors import GraphError
from envs.number import MAX_REPLICAS, finite
from envs.textfile import describe_yaml_error, read_text


class PriceClass(StrEnum):
    """Where a service's replicas are billed: a store edge cluster or a cloud region."""

    EDGE = "edge"
    CLOUD = "cloud"


@dataclass(frozen=True)
class Service:
    """One deployable service. `capacity_rps` is what one replica sustains at 100% busy, within
    the CPU it can use: with a CPU limit, at most `cpu_limit_millicores / cpu_millicores_per_rps`
    (a throttled pod serves no faster). `cpu_limit_millicores=None`: no limit."""

    name: str
    capacity_rps: float
    concurrency: int
    cpu_millicores_per_rps: float
    cpu_request_millicores: float
    cpu_limit_millicores: float | None
    startup_seconds: float
    min_replicas: int
    max_replicas: int
    price_class: PriceClass
    queue_limit_per_replica: int
    annotations: Mapping[str, Any]

    @property
    def busy_cpu_millicores(self) -> float:
        """CPU one replica uses at 100% busy (at most its limit)."""
        return self.capacity_rps * self.cpu_millicores_per_rps

    @property
    def service_time_ms(self) -> float:
        """Mean time one worker spends on one request (each replica runs `concurrency` workers)."""
        return self.concurrency * 1000.0 / self.capacity_rps


@dataclass(frozen=True)
class Call:
    """`caller` makes `fanout` calls to `callee` for each request it serves."""

    caller: str
    callee: str
    fanout: float
    annotations: Mapping[str, Any]


@dataclass(frozen=True)
class ServiceGraph:
    name: str
    entry: str
    services: tuple[Service, ...]
    calls: tuple[Call, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise GraphError(f"graph {self.name!r}: unknown service {name!r}") from None

    def service(self, name: str) -> Service:
        return self.services[self.index(name)]

    def digraph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for s in self.services:
            g.add_node(s.name, service=s)
        for c in self.calls:
            g.add_edge(c.caller, c.callee, fanout=c.fanout, call=c)
        return g

    def visit_ratios(self) -> np.ndarray:
        """Expected requests each service receives per request entering at `entry`."""
        g = self.digraph()
        visits = dict.fromkeys(self.names, 0.0)
        visits[self.entry] = 1.0
        for node in nx.topological_sort(g):
            for _, callee, data in g.out_edges(node, data=True):
                visits[callee] += visits[node] * data["fanout"]
        return np.array([visits[n] for n in self.names])

    def callees(self) -> tuple[tuple[int, ...], ...]:
        """For each service (by index), the indices of the services it calls."""
        out: list[list[int]] = [[] for _ in self.services]
        for c in self.calls:
            out[self.index(c.caller)].append(self.index(c.callee))
        return tuple(tuple(x) for x in out)

    def entry_paths(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """Every call path from the entry to a leaf: (service indices, call indices along it)."""
        out: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        calls_from: dict[int, list[tuple[int, int]]] = {}
        for k, c in enumerate(self.calls):
            calls_from.setdefault(self.index(c.caller), []).append((k, self.index(c.callee)))

        def walk(node: int, nodes: tuple[int, ...], edges: tuple[int, ...]) -> None:
            if node not in calls_from:
                out.append((nodes, edges))
            for k, callee in calls_from.get(node, []):
                walk(callee, (*nodes, callee), (*edges, k))

        walk(self.index(self.entry), (self.index(self.entry),), ())
        return tuple(out)

    def topological_order(self) -> tuple[int, ...]:
        return tuple(self.index(n) for n in nx.topological_sort(self.digraph()))

    def array(self, field: str) -> np.ndarray:
        """A per-service numpy array of one numeric field or property, in `names` order."""
        return np.array([float(getattr(s, field)) for s in self.services])

    def startup_ticks(self, tick_seconds: float) -> np.ndarray:
        """The start-up lead: whole ticks from a pod's creation until it serves,
        ceil(startup_seconds / tick), per service."""
        result: np.ndarray = np.ceil(self.array("startup_seconds") / tick_seconds).astype(int)
        return result


_SERVICE_DEFAULTS: dict[str, Any] = {
    "concurrency": 1,
    "cpu_request_millicores": 1000.0,
    "startup_seconds": 60.0,
    "min_replicas": 1,
    "max_replicas": 100,
    "price_class": "cloud",
    "queue_limit_per_replica": 100,
}


# Upper bounds of a service's fields (beyond them the twin's arrays or arithmetic blow up).
_MAX = {"capacity_rps": 1e9, "concurrency": 10_000, "cpu_millicores_per_rps": 1e9,
        "cpu_request_millicores": 1e7, "cpu_limit_millicores": 1e7, "startup_seconds": 86_400.0,
        "min_replicas": MAX_REPLICAS, "max_replicas": MAX_REPLICAS,
        "queue_limit_per_replica": 10_000_000, "fanout": 1_000.0}


def _number(where: str, field: str, raw: Any, *, positive: bool, integer: bool = False) -> float:
    return finite(where, field, raw, error=GraphError, integer=integer, maximum=_MAX[field],
                  above=0 if positive else None, minimum=None if positive else 0)


def _annotations(where: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise GraphError(f"{where}: field 'annotations' must be a mapping, got {raw!r}")
    return dict(raw)


def _cpu_limit(where: str, raw: Any, request: float) -> float | None:
    """`cpu_limit_millicores`: absent or null is no limit (Kubernetes' default), else >= request."""
    if raw is None:
        return None
    limit = _number(where, "cpu_limit_millicores", raw, positive=True)
    if limit < request:
        raise GraphError(f"{where}: field 'cpu_limit_millicores' ({limit:g}) is below "
                         f"'cpu_request_millicores' ({request:g}); Kubernetes refuses that pod")
    return limit


def _default_cpu_per_rps(capacity: float, request: float, limit: float | None) -> float:
    """With a CPU limit, a 100%-busy replica is CPU-bound at its limit (it bursts above its
    request up to the limit); with no limit, it uses 90% of its request unless
    `cpu_millicores_per_rps` says how much more it takes."""
    return (limit if limit is not None else 0.9 * request) / capacity


def _parse_service(name: str, raw: Any) -> Service:
    where = f"service {name!r}"
    if not isinstance(raw, Mapping):
        raise GraphError(f"{where}: expected a mapping of fields, got {type(raw).__name__}")
    known = set(_SERVICE_DEFAULTS) | {"capacity_rps", "cpu_millicores_per_rps",
                                      "cpu_limit_millicores", "annotations"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GraphError(
            f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    if "capacity_rps" not in raw:
        raise GraphError(f"{where}: missing field 'capacity_rps'")
    f = {**_SERVICE_DEFAULTS, **raw}
    price = str(f["price_class"])
    if price not in {p.value for p in PriceClass}:
        raise GraphError(f"{where}: field 'price_class' must be 'edge' or 'cloud', got {price!r}")
    capacity = _number(where, "capacity_rps", f["capacity_rps"], positive=True)
    request = _number(where, "cpu_request_millicores", f["cpu_request_millicores"], positive=True)
    limit = _cpu_limit(where, f.get("cpu_limit_millicores"), request)
    cpu_per_rps = _number(where, "cpu_millicores_per_rps",
                          f.get("cpu_millicores_per_rps", _default_cpu_per_rps(
                              capacity, request, limit)), positive=True)
    if limit is not None:  # capacity is what the CPU the pod may use sustains
        capacity = min(capacity, limit / cpu_per_rps)
    svc = Service(
        name=name,
        capacity_rps=capacity,
        concurrency=int(
            _number(where, "concurrency", f["concurrency"], positive=True, integer=True)
        ),
        cpu_millicores_per_rps=cpu_per_rps,
        cpu_request_millicores=request,
        cpu_limit_millicores=limit,
        startup_seconds=_number(where, "startup_seconds", f["startup_seconds"], positive=False),
        min_replicas=int(
            _number(where, "min_replicas", f["min_replicas"], positive=True, integer=True)
        ),
        max_replicas=int(
            _number(where, "max_replicas", f["max_replicas"], positive=True, integer=True)
        ),
        price_class=PriceClass(price),
        queue_limit_per_replica=int(
            _number(
                where,
                "queue_limit_per_replica",
                f["queue_limit_per_replica"],
                positive=False,
                integer=True,
            )
        ),
        annotations=_annotations(where, f.get("annotations")),
    )
    if svc.min_replicas > svc.max_replicas:
        raise GraphError(
            f"{where}: field 'min_replicas' ({svc.min_replicas}) exceeds 'max_replicas' "
            f"({svc.max_replicas})"
        )
    return svc


def _parse_calls(raw_calls: Any, names: set[str]) -> tuple[Call, ...]:
    if raw_calls is None:
        return ()
    if not isinstance(raw_calls, list):
        raise GraphError("field 'calls' must be a list of {from, to, fanout}")
    calls = []
    for i, raw in enumerate(raw_calls):
        if not isinstance(raw, Mapping) or "from" not in raw or "to" not in raw:
            raise GraphError(f"calls[{i}]: expected a mapping with 'from' and 'to', got {raw!r}")
        caller, callee = str(raw["from"]), str(raw["to"])
        for role, svc in (("from", caller), ("to", callee)):
            if svc not in names:
                raise GraphError(f"calls[{i}]: field {role!r} names unknown service {svc!r}")
        fanout = _number(
            f"call {caller}->{callee}", "fanout", raw.get("fanout", 1.0), positive=True
        )
        calls.append(Call(caller, callee, fanout,
                          _annotations(f"calls[{i}]", raw.get("annotations"))))
    return tuple(calls)


def parse_graph(raw: Any, *, name: str = "graph") -> ServiceGraph:
    """Validate a mapping (as loaded from YAML) into a ServiceGraph."""
    if not isinstance(raw, Mapping):
        raise GraphError(f"graph {name!r}: expected a mapping with 'entry', 'services', 'calls'")
    name = str(raw.get("name", name))
    raw_services = raw.get("services")
    if not isinstance(raw_services, Mapping) or not raw_services:
        raise GraphError(f"graph {name!r}: field 'services' must be a non-empty mapping")
    services = tuple(_parse_service(str(n), s) for n, s in raw_services.items())
    names = {s.name for s in services}
    entry = raw.get("entry")
    if entry is None:
        raise GraphError(f"graph {name!r}: missing entry point (field 'entry')")
    if not isinstance(entry, str) or entry not in names:
        raise GraphError(f"graph {name!r}: field 'entry' names unknown service {entry!r}")
    graph = ServiceGraph(name, str(entry), services, _parse_calls(raw.get("calls"), names))
    g = graph.digraph()
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        path = " -> ".join([str(e[0]) for e in cycle] + [str(cycle[0][0])])
        raise GraphError(f"graph {name!r}: call cycle {path}; calls must form a DAG")
    unreachable = sorted(names - nx.descendants(g, graph.entry) - {graph.entry})
    if unreachable:
        raise GraphError(
            f"graph {name!r}: service {unreachable[0]!r} is not reachable from entry {entry!r}"
        )
    return graph


def load_graph(source: str | Path) -> ServiceGraph:
    """Load a graph from a YAML file, or a built-in graph by name (e.g. `boutique`)."""
    path = Path(source)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        text = read_text(path, "graph file", GraphError)
        default_name = path.stem
    else:
        builtin = resources.files("envs.data").joinpath(f"graph-{source}.yaml")
        if not builtin.is_file():
            raise GraphError(f"unknown built-in graph {str(source)!r} (known: {builtin_graphs()})")
        text, default_name = builtin.read_text(), str(source)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise GraphError(
            f"graph {default_name!r}: not valid YAML ({describe_yaml_error(e)})") from e
    return parse_graph(raw, name=default_name)


def builtin_graphs() -> str:
    files = resources.files("envs.data").iterdir()
    return ", ".join(sorted(f.name[6:-5] for f in files if f.name.startswith("graph-")))

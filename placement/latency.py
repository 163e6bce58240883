"""Network round trips a plan adds, per call edge, for one store: the twin's latency input.

Pure: give it a plan (or the raw per-service sites) and a store; it returns the RTT in
milliseconds each call of the service graph pays on the network, 0 when caller and callee share
a site, the store's WAN RTT to the region when one end is in the store and the other in cloud,
plus the shopper's RTT to wherever the entry service runs (for a region: the in-store leg plus
the store's WAN round trip).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from envs.graph import ServiceGraph
from placement.errors import PlacementError
from placement.plan import Plan
from placement.topology import Topology


@dataclass(frozen=True)
class StoreLatency:
    store: str
    locations: Mapping[str, str]  # service -> site: the store's name or a region's name
    call_rtt_ms: tuple[float, ...]  # aligned with graph.calls
    calls: tuple[tuple[str, str], ...]  # (caller, callee), aligned with call_rtt_ms
    entry: str
    shopper_rtt_ms: float  # shopper -> entry service

    def by_call(self) -> dict[tuple[str, str], float]:
        return dict(zip(self.calls, self.call_rtt_ms, strict=True))


def _site_rtt_ms(topology: Topology, store: str, a: str, b: str) -> float:
    if a == b:
        return 0.0
    s = topology.store(store)
    if store in (a, b):
        region = b if a == store else a
        if region not in s.wan.rtt_ms:
            raise PlacementError(f"{store}: unknown site {region!r}")
        return float(s.wan.rtt_ms[region])
    raise PlacementError(f"{store}: services on two regions ({a}, {b}); a store's cloud "
                         f"services share one home region")


def store_latency(topology: Topology, graph: ServiceGraph, store: str,
                  locations: Mapping[str, str]) -> StoreLatency:
    """RTT added to each call of `graph` for `store`, given each service's site."""
    missing = [n for n in graph.names if n not in locations]
    if missing:
        raise PlacementError(f"{store}: no site for service {missing[0]!r}")
    s = topology.store(store)
    calls = tuple((c.caller, c.callee) for c in graph.calls)
    rtts = tuple(_site_rtt_ms(topology, store, locations[a], locations[b]) for a, b in calls)
    entry_site = locations[graph.entry]
    shopper = s.shopper_rtt_ms + (0.0 if entry_site == store else float(s.wan.rtt_ms[entry_site]))
    return StoreLatency(store, dict(locations), rtts, calls, graph.entry, shopper)


def plan_latency(plan: Plan, store: str) -> StoreLatency:
    """`store_latency` for one store of a plan."""
    ctx = plan.problem.ctx
    names = ctx.topology.store_names
    s = names.index(ctx.topology.store(store).name)
    locations = {n: plan.site_name(s, j) for j, n in enumerate(ctx.app.names)}
    return store_latency(ctx.topology, ctx.app.graph, store, locations)

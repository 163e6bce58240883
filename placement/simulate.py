"""Placements in the twin: what a shopper at one store feels, and what it costs, per placement.

A placement changes three things the twin models: the network round trip each call pays (0 when
caller and callee share a site, the store's WAN RTT when the call crosses it; the shopper's own
RTT to wherever the entry service runs), the price of each service's vCPU-hours (the store's edge
price or its home region's), and what a WAN outage takes away (every service not in the store is
unreachable from the store's shoppers while the WAN is down). The twin itself stays the one
model: this module only builds its config and the outage mask.

Variants compared: `all-cloud` (everything in the store's nearest region), `edge-fit` (at the
edge in call order while the store's capacity lasts) and `edgewise` (the MILP plan).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from envs.scenario import Scenario
from envs.twin_config import TwinConfig
from placement.baselines import all_at_edge_where_fits, all_in_cloud
from placement.errors import PlacementError
from placement.framework import Context
from placement.latency import StoreLatency, plan_latency
from placement.milp import solve_milp
from placement.plan import Plan
from placement.plugins import default_framework
from placement.requirements import App
from placement.topology import Topology

VARIANTS = ("all-cloud", "edge-fit", "edgewise")


@dataclass(frozen=True)
class WanOutage:
    start: datetime
    duration_seconds: float


@dataclass(frozen=True)
class PlacedRun:
    """One placement variant for one store: the twin config and the outage mask to run with."""

    variant: str
    config: TwinConfig
    unreachable: np.ndarray | None
    locations: dict[str, str]


def plans(topology: Topology, app: App) -> dict[str, Plan]:
    problem = default_framework().build(Context(topology, app))
    return {
        "all-cloud": all_in_cloud(problem),
        "edge-fit": all_at_edge_where_fits(problem),
        "edgewise": solve_milp(problem),
    }


def placed_config(base: TwinConfig, topology: Topology, latency: StoreLatency) -> TwinConfig:
    edge_price = topology.economics.edge_vcpu_hour_usd
    regions = {r.name: r.vcpu_hour_usd for r in topology.regions}
    price = tuple(
        edge_price if latency.locations[n] == latency.store else regions[latency.locations[n]]
        for n in base.graph.names
    )
    return replace(
        base,
        call_rtt_ms=latency.call_rtt_ms,
        entry_rtt_ms=latency.shopper_rtt_ms,
        vcpu_hour_usd=price,
    )


def outage_mask(
    scenario: Scenario, latency: StoreLatency, outage: WanOutage | None, names: tuple[str, ...]
) -> np.ndarray | None:
    """(ticks, services): True for services outside the store while its WAN is down."""
    if outage is None:
        return None
    t = np.arange(scenario.ticks) * float(scenario.tick_seconds)
    lo = (outage.start - scenario.start).total_seconds()
    down = (t + scenario.tick_seconds > lo) & (t < lo + outage.duration_seconds)
    remote = np.array([latency.locations[n] != latency.store for n in names])
    mask: np.ndarray = down[:, None] & remote[None, :]
    return mask


def store_scenario(scenario: Scenario, app: App, topology: Topology, store: str) -> Scenario:
    """The scenario's demand shape at one store: its daily peak is the store's `demand_rps`, and
    the app's graph (with its placement annotations) replaces the scenario's."""
    if app.graph.names != scenario.graph.names:
        raise PlacementError(
            f"app {app.graph.name!r} and scenario {scenario.name!r} have different services"
        )
    demand = topology.store(store).demand_rps
    workload = (
        replace(scenario.workload, base_rps=demand)
        if scenario.trace_rps is None
        else scenario.workload
    )
    trace = (
        None
        if scenario.trace_rps is None
        else scenario.trace_rps * (demand / max(float(np.quantile(scenario.trace_rps, 0.99)), 1e-9))
    )
    return replace(scenario, graph=app.graph, workload=workload, trace_rps=trace)


def placed_runs(
    scenario: Scenario, topology: Topology, app: App, store: str, outage: WanOutage | None = None
) -> list[PlacedRun]:
    """The three placement variants of `store`, ready to run in the twin."""
    if store not in topology.store_names:
        raise PlacementError(f"unknown store {store!r} (stores: {', '.join(topology.store_names)})")
    base = scenario.config()
    runs = []
    for variant, plan in plans(topology, app).items():
        lat = plan_latency(plan, store)
        runs.append(
            PlacedRun(
                variant,
                placed_config(base, topology, lat),
                outage_mask(scenario, lat, outage, base.graph.names),
                dict(lat.locations),
            )
        )
    return runs


def parse_outage(raw: str) -> WanOutage:
    """`START/DURATION`, e.g. `2026-11-27T02:00/2h`."""
    from envs.scenario import parse_duration

    try:
        start, duration = raw.split("/", 1)
        at = datetime.fromisoformat(start.replace("Z", "+00:00"))
        if at.tzinfo is not None:  # an offset is converted to UTC, as scenario times are
            at = at.astimezone(UTC).replace(tzinfo=None)
        return WanOutage(at, parse_duration(duration, "--wan-outage"))
    except ValueError as e:
        raise PlacementError(
            f"--wan-outage: expected START/DURATION like 2026-11-27T02:00/2h, got {raw!r}"
        ) from e

"""The placement framework: small Filter and Score plugins turned into one numeric Problem.

Modelled on Karmada's scheduler framework: Filter plugins say where a service may not run (each
with a reason it can explain), Score plugins price where it may. Unlike Karmada's per-cluster
scores, ours are dollars per hour so a solver can add them up exactly.

Sites: for store s, site 0 is the store's own edge cluster and site 1 + r is cloud region r.
Each store runs its own instance of the app; its cloud-placed services all live in one home
region, so a call edge either stays inside a site or crosses the store's WAN to that region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from placement.requirements import App
from placement.topology import Topology

EDGE = 0
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


class Reason(StrEnum):
    """Why a service is (or is not) on a site: the constraint or score that decided."""

    PII_LOCAL = "PiiLocal"
    OFFLINE = "OfflineRequired"
    OFFLINE_CLOSURE = "OfflineClosure"
    LATENCY = "LatencyBound"
    GPU = "GpuAvailable"
    TOO_BIG = "FitsStore"
    CAPACITY = "StoreCapacity"
    BANDWIDTH = "WanBandwidth"
    HOME_REGION = "HomeRegion"
    COST = "LowestCost"
    TRAFFIC = "CallTraffic"
    KEPT = "LeastChurn"
    FAILOVER = "Failover"
    UNREACHABLE = "Unreachable"
    LOCAL_OPTIMUM = "HeuristicLocalOptimum"


@dataclass(frozen=True)
class Failures:
    """What is lost: stores whose WAN is down, cloud regions that are down, stores whose own
    edge cluster is down (`sites_down`), and stores that lost part of their nodes (`degraded`:
    store name -> fraction of CPU, memory and GPUs lost, 0 < fraction < 1)."""

    wan_lost: frozenset[str] = frozenset()
    regions_down: frozenset[str] = frozenset()
    sites_down: frozenset[str] = frozenset()
    degraded: tuple[tuple[str, float], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.wan_lost or self.regions_down or self.sites_down or self.degraded)

    def degraded_fraction(self, store: str) -> float:
        return dict(self.degraded).get(store, 0.0)


@dataclass(frozen=True, eq=False)
class Context:
    """What every plugin sees: the fleet, the app, failures and (when re-planning) the old sites."""

    topology: Topology
    app: App
    failures: Failures = Failures()
    previous_site: IntArray | None = None

    @property
    def n_sites(self) -> int:
        return 1 + len(self.topology.regions)

    def rps(self) -> FloatArray:
        """(S, J) requests per second each service serves for each store."""
        demand = np.array([s.demand_rps for s in self.topology.stores], dtype=float)
        visits = np.asarray(self.app.visit_ratios, dtype=float)
        return np.asarray(np.outer(demand, visits), dtype=float)

    def call_rps(self) -> FloatArray:
        """(S, E) calls per second on each call edge for each store."""
        rps = self.rps()
        fanout = np.array([c.fanout for c in self.app.calls])
        callers = np.array([c.caller for c in self.app.calls], dtype=np.int64)
        return rps[:, callers] * fanout[None, :] if len(callers) else np.zeros((len(rps), 0))

    def wan_rtt_ms(self) -> FloatArray:
        """(S, R) round trip from each store to each region."""
        regions = self.topology.region_names
        return np.array([[s.wan.rtt_ms[r] for r in regions] for s in self.topology.stores])

    def shopper_site_rtt_ms(self) -> FloatArray:
        """(S, K) a shopper's round trip to each site: to the store's cluster, and for a region
        the in-store leg plus the store's WAN round trip to it."""
        shopper = np.array([s.shopper_rtt_ms for s in self.topology.stores])
        return np.concatenate([shopper[:, None], shopper[:, None] + self.wan_rtt_ms()], axis=1)

    def site_name(self, s: int, k: int) -> str:
        return self.topology.stores[s].name if k == EDGE else self.topology.regions[k - 1].name


class FilterPlugin(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def reason(self) -> Reason: ...

    def filter(self, ctx: Context) -> BoolArray:
        """(S, J, K) True where service j of store s may run on site k."""

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        """One line: why this plugin rules site k out for service j of store s."""


class ScorePlugin(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, ctx: Context) -> FloatArray:
        """(S, J, K) dollars per hour of running service j of store s on site k."""


class CallScorePlugin(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, ctx: Context) -> FloatArray:
        """(S, E, R) dollars per hour when call e of store s crosses the WAN to region r."""


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything a solver needs, as arrays. Built once by `Framework.build`."""

    ctx: Context
    allowed: BoolArray  # (S, J, K)
    blocked_by: IntArray  # (S, J, K) index of the first filter that ruled the site out, or -1
    unary_parts: FloatArray  # (P, S, J, K) per score plugin
    cross_parts: FloatArray  # (Q, S, E, R) per call score plugin
    cpu_millicores: FloatArray  # (S, J) at the edge
    memory_mib: FloatArray  # (S, J)
    gpus: FloatArray  # (J,) whole GPUs at the edge
    call_mbps: FloatArray  # (S, E) WAN bandwidth a crossing uses
    cpu_capacity: FloatArray  # (S,)
    memory_capacity: FloatArray  # (S,)
    gpu_capacity: FloatArray  # (S,)
    bandwidth_mbps: FloatArray  # (S,) usable WAN bandwidth
    calls: IntArray  # (E, 2) caller, callee
    closure: IntArray  # (C, 2) if caller j is local then k is local
    filters: tuple[FilterPlugin, ...]
    score_names: tuple[str, ...]
    call_score_names: tuple[str, ...]
    unary: FloatArray = field(init=False)
    cross: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unary", self.unary_parts.sum(axis=0))
        object.__setattr__(self, "cross", self.cross_parts.sum(axis=0))

    @property
    def shape(self) -> tuple[int, int, int]:
        s, j, k = self.allowed.shape
        return s, j, k

    def for_stores(self, stores: Sequence[int] | IntArray) -> Problem:
        """The same problem restricted to some stores (stores share no constraint)."""
        sel = np.asarray(stores, dtype=np.int64)
        topo = self.ctx.topology.model_copy(
            update={"stores": tuple(self.ctx.topology.stores[i] for i in sel)})
        prev = self.ctx.previous_site
        ctx = replace(self.ctx, topology=topo, previous_site=None if prev is None else prev[sel])
        return Problem(
            ctx=ctx, allowed=self.allowed[sel], blocked_by=self.blocked_by[sel],
            unary_parts=self.unary_parts[:, sel], cross_parts=self.cross_parts[:, sel],
            cpu_millicores=self.cpu_millicores[sel], memory_mib=self.memory_mib[sel],
            gpus=self.gpus, call_mbps=self.call_mbps[sel], cpu_capacity=self.cpu_capacity[sel],
            memory_capacity=self.memory_capacity[sel], gpu_capacity=self.gpu_capacity[sel],
            bandwidth_mbps=self.bandwidth_mbps[sel], calls=self.calls, closure=self.closure,
            filters=self.filters, score_names=self.score_names,
            call_score_names=self.call_score_names,
        )


@dataclass(frozen=True)
class Framework:
    filters: Sequence[FilterPlugin]
    scores: Sequence[ScorePlugin]
    call_scores: Sequence[CallScorePlugin]

    def build(self, ctx: Context) -> Problem:
        n_s, n_j, n_k = len(ctx.topology.stores), len(ctx.app.names), ctx.n_sites
        allowed = np.ones((n_s, n_j, n_k), dtype=bool)
        blocked_by = np.full((n_s, n_j, n_k), -1, dtype=np.int64)
        for i, plugin in enumerate(self.filters):
            ok = plugin.filter(ctx)
            blocked_by[~ok & allowed] = i
            allowed &= ok
        unary = np.stack([p.score(ctx) for p in self.scores]) if self.scores else np.zeros(
            (0, n_s, n_j, n_k))
        n_e = len(ctx.app.calls)
        cross = np.stack([p.score(ctx) for p in self.call_scores]) if self.call_scores else (
            np.zeros((0, n_s, n_e, n_k - 1)))
        return Problem(
            ctx=ctx, allowed=allowed, blocked_by=blocked_by,
            unary_parts=np.nan_to_num(unary), cross_parts=cross,
            **_resources(ctx), filters=tuple(self.filters),
            score_names=tuple(p.name for p in self.scores),
            call_score_names=tuple(p.name for p in self.call_scores),
        )


def _resources(ctx: Context) -> dict[str, Any]:
    reqs, topo = ctx.app.requirements, ctx.topology
    rps = ctx.rps()
    per = np.array([[r.cpu_base_millicores, r.cpu_millicores_per_rps,
                     r.memory_base_mib, r.memory_mib_per_rps] for r in reqs])
    kb = np.array([c.kb_per_call for c in ctx.app.calls])
    headroom = topo.economics.wan_bandwidth_headroom
    return {
        "cpu_millicores": per[None, :, 0] + per[None, :, 1] * rps,
        "memory_mib": per[None, :, 2] + per[None, :, 3] * rps,
        "gpus": np.array([1.0 if r.needs_gpu else 0.0 for r in reqs]),
        "call_mbps": ctx.call_rps() * kb[None, :] * 8.0 / 1000.0 if len(kb) else np.zeros(
            (len(rps), 0)),
        "cpu_capacity": np.array([s.cpu_millicores for s in topo.stores]),
        "memory_capacity": np.array([s.memory_mib for s in topo.stores]),
        "gpu_capacity": np.array([float(s.gpus) for s in topo.stores]),
        "bandwidth_mbps": np.array([s.wan.bandwidth_mbps * headroom for s in topo.stores]),
        "calls": np.array([[c.caller, c.callee] for c in ctx.app.calls],
                          dtype=np.int64).reshape(-1, 2),
        "closure": np.array(ctx.app.offline_closure(), dtype=np.int64).reshape(-1, 2),
    }

"""The Filter and Score plugins. Each is small, vectorised over (store, service, site) and pure.

Filters rule sites out and explain why in one line; scores are dollars per hour so that solvers
can add them. `default_framework()` wires them in the order explanations should prefer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from placement.framework import (
    EDGE,
    BoolArray,
    CallScorePlugin,
    Context,
    FilterPlugin,
    FloatArray,
    Framework,
    Reason,
    ScorePlugin,
)

HOURLY_MILLIONS = 3600.0 / 1e6  # requests per second -> million requests per hour
UNSERVED_USD_PER_MILLION_REQUESTS = 1.0e4  # a request that cannot be served at all (failover)
CHURN_USD_PER_HOUR = 2.0  # moving a service whose current site still works (re-plan)


def _ones(ctx: Context) -> BoolArray:
    return np.ones((len(ctx.topology.stores), len(ctx.app.names), ctx.n_sites), dtype=bool)


def _flag(ctx: Context, attr: str) -> BoolArray:
    return np.array([bool(getattr(r, attr)) for r in ctx.app.requirements])


def _cloud_blocked_for(ctx: Context, services: BoolArray) -> BoolArray:
    ok = _ones(ctx)
    ok[:, services, 1:] = False
    return ok


@dataclass(frozen=True)
class PiiLocal:
    name: str = "PiiLocal"
    reason: Reason = Reason.PII_LOCAL

    def filter(self, ctx: Context) -> BoolArray:
        return _cloud_blocked_for(ctx, _flag(ctx, "pii_local"))

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        return (f"{ctx.app.names[j]} handles PII that must stay in store "
                f"{ctx.topology.stores[s].name}")


@dataclass(frozen=True)
class OfflineRequired:
    name: str = "OfflineRequired"
    reason: Reason = Reason.OFFLINE

    def filter(self, ctx: Context) -> BoolArray:
        return _cloud_blocked_for(ctx, _flag(ctx, "offline"))

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        return (f"{ctx.app.names[j]} must keep working when {ctx.topology.stores[s].name}'s "
                f"WAN is down")


@dataclass(frozen=True)
class OfflineClosure:
    """A service called (directly or not) by an offline service must be local too."""

    name: str = "OfflineClosure"
    reason: Reason = Reason.OFFLINE_CLOSURE

    def filter(self, ctx: Context) -> BoolArray:
        callees = np.zeros(len(ctx.app.names), dtype=bool)
        for _, k in ctx.app.offline_closure():
            callees[k] = True
        return _cloud_blocked_for(ctx, callees)

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        callers = sorted(ctx.app.names[a] for a, b in ctx.app.offline_closure() if b == j)
        return (f"{ctx.app.names[j]} is called by offline service {', '.join(callers)}, so it "
                f"must run in {ctx.topology.stores[s].name} too")


@dataclass(frozen=True)
class LatencyBound:
    name: str = "LatencyBound"
    reason: Reason = Reason.LATENCY

    def _limits(self, ctx: Context) -> FloatArray:
        return np.array([np.inf if r.max_rtt_ms is None else r.max_rtt_ms
                         for r in ctx.app.requirements])

    def filter(self, ctx: Context) -> BoolArray:
        rtt = ctx.shopper_site_rtt_ms()  # (S, K)
        return rtt[:, None, :] <= self._limits(ctx)[None, :, None]

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        store = ctx.topology.stores[s]
        rtt = float(ctx.shopper_site_rtt_ms()[s, k])
        path = "" if k == EDGE else (f" ({store.shopper_rtt_ms:g} ms in store + "
                                     f"{store.wan.rtt_ms[ctx.site_name(s, k)]:g} ms WAN)")
        return (f"{ctx.app.names[j]} needs <= {self._limits(ctx)[j]:g} ms RTT to shoppers; "
                f"{ctx.site_name(s, k)} is {rtt:g} ms from {store.name}'s shoppers{path}")


@dataclass(frozen=True)
class GpuAvailable:
    name: str = "GpuAvailable"
    reason: Reason = Reason.GPU

    def filter(self, ctx: Context) -> BoolArray:
        ok = _ones(ctx)
        needs = _flag(ctx, "needs_gpu")
        store_gpus = np.array([s.gpus > 0 for s in ctx.topology.stores])
        region_gpus = np.array([r.has_gpus for r in ctx.topology.regions])
        ok[np.ix_(~store_gpus, needs, np.array([EDGE]))] = False
        ok[:, needs, 1:] &= region_gpus[None, None, :]
        return ok

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        return f"{ctx.app.names[j]} needs a GPU; {ctx.site_name(s, k)} has none"


@dataclass(frozen=True)
class FitsStore:
    """The service alone does not fit the store's allocatable CPU or memory."""

    name: str = "FitsStore"
    reason: Reason = Reason.TOO_BIG

    def _need(self, ctx: Context) -> tuple[FloatArray, FloatArray]:
        reqs, rps = ctx.app.requirements, ctx.rps()
        cpu = np.array([r.cpu_base_millicores for r in reqs]) + rps * np.array(
            [r.cpu_millicores_per_rps for r in reqs])
        mem = np.array([r.memory_base_mib for r in reqs]) + rps * np.array(
            [r.memory_mib_per_rps for r in reqs])
        return cpu, mem

    def filter(self, ctx: Context) -> BoolArray:
        ok = _ones(ctx)
        cpu, mem = self._need(ctx)
        cap_cpu = np.array([s.cpu_millicores for s in ctx.topology.stores])
        cap_mem = np.array([s.memory_mib for s in ctx.topology.stores])
        ok[:, :, EDGE] = (cpu <= cap_cpu[:, None]) & (mem <= cap_mem[:, None])
        return ok

    def explain(self, ctx: Context, s: int, j: int, k: int) -> str:
        cpu, mem = self._need(ctx)
        store = ctx.topology.stores[s]
        return (f"{store.name} has {store.cpu_millicores / 1000:g} vCPU and "
                f"{store.memory_mib:g} MiB; {ctx.app.names[j]} needs {cpu[s, j] / 1000:.2f} vCPU "
                f"and {mem[s, j]:.0f} MiB")


@dataclass(frozen=True)
class ComputeCost:
    name: str = "ComputeCost"

    def score(self, ctx: Context) -> FloatArray:
        topo, reqs, econ = ctx.topology, ctx.app.requirements, ctx.topology.economics
        rps = ctx.rps()
        cores = (np.array([r.cpu_base_millicores for r in reqs]) +
                 rps * np.array([r.cpu_millicores_per_rps for r in reqs])) / 1000.0
        gib = (np.array([r.memory_base_mib for r in reqs]) +
               rps * np.array([r.memory_mib_per_rps for r in reqs])) / 1024.0
        needs = _flag(ctx, "needs_gpu").astype(float)
        gpu_rate = np.array([r.gpus_per_rps for r in reqs])
        out = np.empty((*rps.shape, ctx.n_sites))
        out[:, :, EDGE] = (cores * econ.edge_vcpu_hour_usd + gib * econ.edge_memory_gib_hour_usd
                           + needs * econ.edge_gpu_hour_usd)
        for r, region in enumerate(topo.regions):
            gpu_price = region.gpu_hour_usd or 0.0
            out[:, :, 1 + r] = (cores * region.vcpu_hour_usd + gib * region.memory_gib_hour_usd
                                + needs * gpu_rate * rps * gpu_price)
        return out


@dataclass(frozen=True)
class ShopperLatency:
    """The entry service's round trip to shoppers, priced per request-millisecond."""

    name: str = "ShopperLatency"

    def score(self, ctx: Context) -> FloatArray:
        out = np.zeros((len(ctx.topology.stores), len(ctx.app.names), ctx.n_sites))
        rtt = ctx.shopper_site_rtt_ms()
        price = ctx.topology.economics.latency_usd_per_million_request_ms
        e = ctx.app.entry
        out[:, e, :] = ctx.rps()[:, e, None] * HOURLY_MILLIONS * rtt * price
        return out


@dataclass(frozen=True)
class WanOutage:
    """Requests a cloud-placed service loses while the store's WAN is down (1 - availability)."""

    name: str = "WanOutage"

    def score(self, ctx: Context) -> FloatArray:
        out = np.zeros((len(ctx.topology.stores), len(ctx.app.names), ctx.n_sites))
        down = np.array([1.0 - s.wan.availability for s in ctx.topology.stores])
        price = ctx.topology.economics.outage_usd_per_million_requests
        out[:, :, 1:] = (ctx.rps() * HOURLY_MILLIONS * down[:, None] * price)[:, :, None]
        return out


@dataclass(frozen=True)
class Unreachable:
    """Failover: a site the store cannot reach (its WAN is lost, the region is down, or the
    store's own edge cluster is down)."""

    name: str = "Unreachable"

    def score(self, ctx: Context) -> FloatArray:
        out = np.zeros((len(ctx.topology.stores), len(ctx.app.names), ctx.n_sites))
        dead = unreachable_sites(ctx)
        out[:] = (ctx.rps() * HOURLY_MILLIONS * UNSERVED_USD_PER_MILLION_REQUESTS)[:, :, None]
        return np.where(dead[:, None, :], out, 0.0)


@dataclass(frozen=True)
class Churn:
    """Re-plan: moving a service off a site that still works costs a fixed amount."""

    name: str = "Churn"

    def score(self, ctx: Context) -> FloatArray:
        out = np.zeros((len(ctx.topology.stores), len(ctx.app.names), ctx.n_sites))
        if ctx.previous_site is None:
            return out
        prev = ctx.previous_site
        dead = unreachable_sites(ctx)
        prev_alive = ~np.take_along_axis(dead, prev, axis=1)  # (S, J)
        sites = np.arange(ctx.n_sites)[None, None, :]
        moved = sites != prev[:, :, None]
        return np.where(moved & prev_alive[:, :, None], CHURN_USD_PER_HOUR, 0.0)


def unreachable_sites(ctx: Context) -> BoolArray:
    """(S, K) True where store s cannot reach site k under `ctx.failures`."""
    dead = np.zeros((len(ctx.topology.stores), ctx.n_sites), dtype=bool)
    for r, region in enumerate(ctx.topology.regions):
        if region.name in ctx.failures.regions_down:
            dead[:, 1 + r] = True
    for s, store in enumerate(ctx.topology.stores):
        if store.name in ctx.failures.wan_lost:
            dead[s, 1:] = True
        if store.name in ctx.failures.sites_down:
            dead[s, EDGE] = True
    return dead


@dataclass(frozen=True)
class CallLatency:
    name: str = "CallLatency"

    def score(self, ctx: Context) -> FloatArray:
        price = ctx.topology.economics.latency_usd_per_million_request_ms
        return ctx.call_rps()[:, :, None] * HOURLY_MILLIONS * ctx.wan_rtt_ms()[:, None, :] * price


@dataclass(frozen=True)
class WanEgress:
    name: str = "WanEgress"

    def score(self, ctx: Context) -> FloatArray:
        kb = np.array([c.kb_per_call for c in ctx.app.calls])
        gb_per_hour = ctx.call_rps() * 3600.0 * kb[None, :] / 1e6
        cost = gb_per_hour * ctx.topology.economics.wan_egress_usd_per_gb
        return np.repeat(cost[:, :, None], len(ctx.topology.regions), axis=2)


@dataclass(frozen=True)
class BrokenCall:
    """Failover: a call that crosses a lost WAN fails."""

    name: str = "BrokenCall"

    def score(self, ctx: Context) -> FloatArray:
        dead = unreachable_sites(ctx)[:, 1:]  # (S, R)
        lost = ctx.call_rps() * HOURLY_MILLIONS * UNSERVED_USD_PER_MILLION_REQUESTS
        return np.where(dead[:, None, :], lost[:, :, None], 0.0)


def default_filters() -> tuple[FilterPlugin, ...]:
    return (PiiLocal(), OfflineRequired(), OfflineClosure(), LatencyBound(), GpuAvailable(),
            FitsStore())


def default_framework(*, failover: bool = False) -> Framework:
    """The plugins Edgewise runs; `failover` adds the Unreachable, BrokenCall and Churn scores."""
    scores: list[ScorePlugin] = [ComputeCost(), ShopperLatency(), WanOutage()]
    calls: list[CallScorePlugin] = [CallLatency(), WanEgress()]
    if failover:
        scores += [Unreachable(), Churn()]
        calls.append(BrokenCall())
    return Framework(default_filters(), tuple(scores), tuple(calls))

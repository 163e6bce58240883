"""Table-driven tests of each Filter and Score plugin on a one-store, hand-made instance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from placement.framework import EDGE, Context
from placement.plugins import (
    CallLatency,
    ComputeCost,
    FitsStore,
    GpuAvailable,
    LatencyBound,
    OfflineClosure,
    OfflineRequired,
    PiiLocal,
    ShopperLatency,
    WanEgress,
    WanOutage,
)
from placement.requirements import parse_app
from placement.topology import parse_topology

TOPO = parse_topology({
    "regions": [
        {"name": "east", "location": {"lat": 39, "lon": -77}, "vcpu_hour_usd": 0.04,
         "memory_gib_hour_usd": 0.0, "gpu_hour_usd": 1.0},
        {"name": "west", "location": {"lat": 45, "lon": -121}, "vcpu_hour_usd": 0.05,
         "memory_gib_hour_usd": 0.0},
    ],
    "stores": [{"name": "s1", "location": {"lat": 40, "lon": -75}, "cpu_millicores": 2000,
                "memory_mib": 4096, "gpus": 0, "demand_rps": 10, "shopper_rtt_ms": 2,
                "wan": {"rtt_ms": {"east": 10, "west": 60}, "bandwidth_mbps": 100,
                        "availability": 0.99}}],
    "economics": {"edge_vcpu_hour_usd": 0.1, "edge_memory_gib_hour_usd": 0.0,
                  "latency_usd_per_million_request_ms": 1.0, "wan_egress_usd_per_gb": 1.0,
                  "outage_usd_per_million_requests": 100.0},
})


def _app(**placements: dict[str, Any]) -> Any:
    names = ["a", "b", "c"]
    services = {n: {"capacity_rps": 100, "annotations": {"placement": {
        "cpu_base_millicores": 100, "cpu_millicores_per_rps": 10, "memory_base_mib": 0,
        "memory_mib_per_rps": 0, **placements.get(n, {})}}} for n in names}
    calls = [{"from": "a", "to": "b", "fanout": 2.0,
              "annotations": {"placement": {"kb_per_call": 10}}},
             {"from": "b", "to": "c", "fanout": 1.0}]
    return parse_app({"entry": "a", "services": services, "calls": calls})


# (plugin, per-service annotations, expected allowed[s=0] as rows a, b, c x sites store, east, west)
FILTER_CASES = [
    (PiiLocal(), {"b": {"pii_local": True}}, [[1, 1, 1], [1, 0, 0], [1, 1, 1]]),
    (OfflineRequired(), {"a": {"offline": True}}, [[1, 0, 0], [1, 1, 1], [1, 1, 1]]),
    (OfflineClosure(), {"b": {"offline": True}}, [[1, 1, 1], [1, 1, 1], [1, 0, 0]]),
    (OfflineClosure(), {"a": {"offline": True}}, [[1, 1, 1], [1, 0, 0], [1, 0, 0]]),
    (LatencyBound(), {"a": {"max_rtt_ms": 20}}, [[1, 1, 0], [1, 1, 1], [1, 1, 1]]),
    (LatencyBound(), {"c": {"max_rtt_ms": 1}}, [[1, 1, 1], [1, 1, 1], [0, 0, 0]]),
    # a cloud site is 2 ms in store + the WAN: east is 12 ms, over an 11 ms bound
    (LatencyBound(), {"a": {"max_rtt_ms": 11}}, [[1, 0, 0], [1, 1, 1], [1, 1, 1]]),
    (GpuAvailable(), {"c": {"needs_gpu": True}}, [[1, 1, 1], [1, 1, 1], [0, 1, 0]]),
    (FitsStore(), {"b": {"cpu_millicores_per_rps": 500}}, [[1, 1, 1], [0, 1, 1], [1, 1, 1]]),
]


@pytest.mark.parametrize(("plugin", "ann", "expect"), FILTER_CASES,
                         ids=[f"{c[0].name}-{i}" for i, c in enumerate(FILTER_CASES)])
def test_filter(plugin: Any, ann: dict[str, Any], expect: list[list[int]]) -> None:
    ctx = Context(TOPO, _app(**ann))
    got = plugin.filter(ctx)[0].astype(int).tolist()
    assert got == expect
    blocked = np.argwhere(np.array(expect) == 0)
    for j, k in blocked:
        assert plugin.explain(ctx, 0, int(j), int(k))  # every ruled-out site can be explained


def test_gpu_explanation_names_store() -> None:
    ctx = Context(TOPO, _app(c={"needs_gpu": True}))
    assert GpuAvailable().explain(ctx, 0, 2, EDGE) == "c needs a GPU; s1 has none"


# (plugin, service index, expected $/h at store, east, west)
SCORE_CASES = [
    # a: 10 rps -> 100 + 100 m = 0.2 cores: edge 0.2*0.1, east 0.2*0.04, west 0.2*0.05
    (ComputeCost(), 0, [0.02, 0.008, 0.01]),
    # entry a: 10 rps = 0.036 M req/h x rtt (2, 2 + 10, 2 + 60) ms x $1 (cloud: in-store + WAN)
    (ShopperLatency(), 0, [0.072, 0.432, 2.232]),
    (ShopperLatency(), 1, [0.0, 0.0, 0.0]),
    # b: 20 rps = 0.072 M req/h x 1% down x $100 in cloud only
    (WanOutage(), 1, [0.0, 0.072, 0.072]),
]


@pytest.mark.parametrize(("plugin", "j", "expect"), SCORE_CASES,
                         ids=[f"{c[0].name}-{c[1]}" for c in SCORE_CASES])
def test_score(plugin: Any, j: int, expect: list[float]) -> None:
    got = plugin.score(Context(TOPO, _app()))[0, j]
    assert np.allclose(got, expect)


def test_call_scores() -> None:
    ctx = Context(TOPO, _app())
    # a->b: 20 calls/s = 0.072 M/h x rtt (10, 60) ms x $1
    assert np.allclose(CallLatency().score(ctx)[0, 0], [0.72, 4.32])
    # a->b: 20 calls/s x 3600 s x 10 KB = 0.72 GB/h x $1/GB, either region
    assert np.allclose(WanEgress().score(ctx)[0, 0], [0.72, 0.72])

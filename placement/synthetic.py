"""Seeded synthetic fleets (N stores around a few cloud regions) and small random apps.

All randomness comes from the injected `numpy.random.Generator`, so a seed fixes the fleet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from placement.requirements import App, parse_app
from placement.topology import Economics, Location, Region, Store, Topology, Wan

# A handful of plausible regions (roughly where the hyperscalers' US/EU regions sit); prices are
# of the order of on-demand list prices per vCPU-hour and GPU-hour (assumption).
_REGIONS: tuple[tuple[str, float, float, float, float | None], ...] = (
    ("us-east", 39.0, -77.5, 0.042, 0.90),
    ("us-west", 45.6, -121.2, 0.045, 1.00),
    ("us-central", 41.3, -95.9, 0.040, None),
    ("eu-west", 53.3, -6.3, 0.047, 1.10),
)


def _rtt_ms(a: Location, b: Location, access_ms: float) -> float:
    """Fibre RTT over great-circle distance (~1 ms per 100 km round trip) plus access latency."""
    lat1, lon1, lat2, lon2 = map(np.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    km = 2 * 6371.0 * float(np.arcsin(np.sqrt(h)))
    return round(access_ms + km / 100.0, 1)


def generate_fleet(n_stores: int, rng: np.random.Generator, *, n_regions: int = 2,
                   name: str | None = None, economics: Economics | None = None) -> Topology:
    """A fleet of `n_stores` stores (1-2 of 5 with a GPU) spread over the continental US."""
    if n_stores < 1 or not 1 <= n_regions <= len(_REGIONS):
        raise ValueError(f"need n_stores >= 1 and 1 <= n_regions <= {len(_REGIONS)}")
    regions = tuple(
        Region(name=n, location=Location(lat=lat, lon=lon), vcpu_hour_usd=p, gpu_hour_usd=g)
        for n, lat, lon, p, g in _REGIONS[:n_regions]
    )
    stores = tuple(_store(i, regions, rng) for i in range(n_stores))
    return Topology(name=name or f"synthetic-{n_stores}", regions=regions, stores=stores,
                    economics=economics or Economics())


def _store(i: int, regions: tuple[Region, ...], rng: np.random.Generator) -> Store:
    loc = Location(lat=round(float(rng.uniform(27.0, 48.0)), 3),
                   lon=round(float(rng.uniform(-122.0, -71.0)), 3))
    access_ms = float(rng.uniform(4.0, 25.0))
    cpus = int(rng.choice([2, 4, 4, 8, 8, 16]))
    return Store(
        name=f"store-{i + 1:03d}" if i < 999 else f"store-{i + 1}",
        location=loc,
        cpu_millicores=cpus * 1000.0,
        memory_mib=cpus * 2048.0,
        gpus=int(rng.random() < 0.3),
        demand_rps=round(float(rng.lognormal(np.log(12.0), 0.5)), 2),
        shopper_rtt_ms=round(float(rng.uniform(1.0, 4.0)), 1),
        wan=Wan(
            rtt_ms={r.name: _rtt_ms(loc, r.location, access_ms) for r in regions},
            bandwidth_mbps=float(rng.choice([20, 50, 100, 200])),
            availability=round(float(rng.uniform(0.98, 0.9995)), 4),
        ),
    )


def generate_app(n_services: int, rng: np.random.Generator) -> App:
    """A random small app (a call DAG rooted at `svc-0`) with random placement requirements."""
    if n_services < 1:
        raise ValueError("need n_services >= 1")
    services: dict[str, dict[str, Any]] = {}
    for i in range(n_services):
        placement: dict[str, Any] = {
            "cpu_base_millicores": float(rng.choice([50, 100, 200])),
            "cpu_millicores_per_rps": round(float(rng.uniform(2.0, 60.0)), 1),
            "memory_mib_per_rps": round(float(rng.uniform(1.0, 16.0)), 1),
        }
        roll = rng.random()
        if i > 0 and roll < 0.12:
            placement["pii_local"] = True
        elif i > 0 and roll < 0.22:
            placement["offline"] = True
        elif i > 0 and roll < 0.32:
            placement["needs_gpu"] = True
        elif roll < 0.45:
            placement["max_rtt_ms"] = float(rng.choice([20, 40, 80]))
        services[f"svc-{i}"] = {"capacity_rps": 50, "annotations": {"placement": placement}}
    calls = []
    for i in range(1, n_services):
        callers = rng.choice(i, size=min(i, int(rng.integers(1, 3))), replace=False)
        calls += [{"from": f"svc-{int(c)}", "to": f"svc-{i}",
                   "fanout": round(float(rng.uniform(0.2, 2.0)), 2),
                   "annotations": {"placement": {"kb_per_call": float(rng.choice([2, 8, 32]))}}}
                  for c in callers]
    return parse_app({"name": f"random-{n_services}", "entry": "svc-0", "services": services,
                      "calls": calls})

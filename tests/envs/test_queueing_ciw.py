"""Honesty check: the twin's per-service latency against Ciw, an independent discrete-event
simulator of the same M/M/c service. Tolerances (issue 4): mean within 10%, p95 within 15%."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from envs.graph import parse_graph
from envs.observation import Slo
from envs.twin import Twin
from envs.twin_config import TwinConfig

ciw = pytest.importorskip("ciw")

CAPACITY_RPS, CONCURRENCY, REPLICAS = 40.0, 2, 2  # 4 workers, each 20 requests/s
SIM_SECONDS = 3000.0


def twin_latency(rate: float) -> tuple[float, float]:
    g = parse_graph(
        {
            "entry": "svc",
            "services": {
                "svc": {
                    "capacity_rps": CAPACITY_RPS,
                    "concurrency": CONCURRENCY,
                    "min_replicas": REPLICAS,
                }
            },
        }
    )
    twin = Twin(TwinConfig(g, Slo(1000.0, 0.01)), np.full(3, rate), datetime(2026, 1, 1))
    twin.reset(np.array([REPLICAS]))
    for _ in range(3):
        twin.step(np.array([REPLICAS]))
    m = twin.tick_metrics(2)
    return float(m.service_mean_ms[0, 0]), float(m.service_p95_ms[0, 0])


def ciw_latency(rate: float, seed: int) -> tuple[float, float, int]:
    mu = CAPACITY_RPS / CONCURRENCY
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate)],
        service_distributions=[ciw.dists.Exponential(mu)],
        number_of_servers=[CONCURRENCY * REPLICAS],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(SIM_SECONDS)
    warm = 0.1 * SIM_SECONDS
    r = np.array(
        [x.exit_date - x.arrival_date for x in sim.get_all_records() if x.arrival_date > warm]
    )
    return float(r.mean() * 1000), float(np.percentile(r, 95) * 1000), len(r)


@pytest.mark.slow
@pytest.mark.parametrize("utilisation", [0.3, 0.6, 0.8, 0.9])
def test_twin_matches_ciw(utilisation: float) -> None:
    rate = utilisation * CAPACITY_RPS * REPLICAS
    t_mean, t_p95 = twin_latency(rate)
    c_mean, c_p95, n = ciw_latency(rate, seed=11)
    mean_err, p95_err = abs(t_mean / c_mean - 1), abs(t_p95 / c_p95 - 1)
    print(
        f"\nutilisation {utilisation}: {n} requests; mean twin {t_mean:.1f} ms vs ciw "
        f"{c_mean:.1f} ms (error {mean_err:.1%}); p95 twin {t_p95:.1f} vs ciw {c_p95:.1f} ms "
        f"(error {p95_err:.1%})"
    )
    assert mean_err <= 0.10
    assert p95_err <= 0.15

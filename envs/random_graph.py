"""Random service graphs for training a graph-conditioned policy (issue 15, part 4).

`random_graph(spec, rng)` draws an app the policy has never seen: 5-40 services in a call DAG
from one entry service (each new service is called by one earlier service, shallow callers more
likely, depth at most `max_depth`; with probability `shared_probability` a second caller too,
a shared backend such as a cache or a database), random fan-outs (calls made on a share of the
requests, or several per request), service times, concurrency, CPU requests and limits (or none),
start-up times, replica bounds and price classes. `random_slo(graph, rng)` sets the p95 SLO a
multiple of the app's unloaded p95, so every drawn app can meet it. Pure: same rng, same graph.
The graph is built as YAML-shaped data and validated by `envs.graph.parse_graph`, as a user's
graph file is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from envs.graph import ServiceGraph, parse_graph
from envs.observation import Slo
from envs.outcome import tick_metrics
from envs.randomize import RandomizationSpec, random_scenario
from envs.scenario import Scenario
from envs.twin_config import Trajectory, TwinConfig

Range = tuple[float, float]
CPU_REQUESTS_MILLICORES = (100, 200, 250, 500, 1000, 2000)
LIMIT_OVER_REQUEST = (1.0, 1.5, 2.0, 3.0, 5.0, 10.0)  # 10x: 100m requested, 1 core limit
CONCURRENCY = (1, 2, 4, 8)


@dataclass(frozen=True)
class GraphSpec:
    """Ranges of a random app (uniform unless `log` says log-uniform)."""

    services: tuple[int, int] = (5, 40)
    max_depth: int = 5
    max_paths: int = 200  # the twin's latency model walks every entry path
    shared_probability: float = 0.15
    no_limit_probability: float = 0.2
    edge_probability: float = 0.25
    service_time_ms: Range = (4.0, 150.0)  # log-uniform
    startup_seconds: Range = (10.0, 300.0)  # log-uniform
    entry_fanout: Range = (0.05, 2.5)  # log-uniform
    inner_fanout: Range = (0.1, 2.0)  # log-uniform
    slo_over_unloaded: Range = (1.8, 3.5)

    def __post_init__(self) -> None:
        lo, hi = self.services
        if not 2 <= lo <= hi:
            raise ValueError(f"graph spec: services must be 2 <= low <= high, got {self.services}")
        if self.max_depth < 1 or self.max_paths < 1:
            raise ValueError("graph spec: max_depth and max_paths must be >= 1")


def _log_u(rng: np.random.Generator, r: Range) -> float:
    return float(np.exp(rng.uniform(np.log(r[0]), np.log(r[1]))))


def _service(rng: np.random.Generator, spec: GraphSpec) -> dict[str, Any]:
    concurrency = int(rng.choice(CONCURRENCY))
    service_ms = _log_u(rng, spec.service_time_ms)
    request = float(rng.choice(CPU_REQUESTS_MILLICORES))
    limit = (None if rng.random() < spec.no_limit_probability
             else request * float(rng.choice(LIMIT_OVER_REQUEST)))
    return {"capacity_rps": round(concurrency * 1000.0 / service_ms, 3),
            "concurrency": concurrency, "cpu_request_millicores": request,
            "cpu_limit_millicores": limit,
            "startup_seconds": round(_log_u(rng, spec.startup_seconds)),
            "min_replicas": int(rng.integers(1, 3)), "max_replicas": 1000,
            "price_class": "edge" if rng.random() < spec.edge_probability else "cloud"}


def _total_paths(callers: list[list[int]]) -> int:
    """Entry-to-leaf paths of the DAG (callers come before callees)."""
    through = [1] + [0] * (len(callers) - 1)
    for i in range(1, len(callers)):
        through[i] = sum(through[c] for c in callers[i])
    called = {c for mine in callers for c in mine}
    return sum(through[i] for i in range(len(callers)) if i not in called)


def _calls(n: int, rng: np.random.Generator, spec: GraphSpec) -> list[tuple[int, int, float]]:
    depth: list[int] = [0]
    callers: list[list[int]] = [[]]
    for i in range(1, n):
        allowed = [j for j in range(i) if depth[j] < spec.max_depth]
        weights = np.array([0.5 ** depth[j] for j in allowed])
        first = int(rng.choice(allowed, p=weights / weights.sum()))
        mine = [first]
        if i > 1 and rng.random() < spec.shared_probability:
            other = int(rng.choice(allowed))
            if other != first:
                mine.append(other)
        callers.append(mine)
        depth.append(max(depth[c] for c in mine) + 1)
    # fan-in multiplies paths: drop second callers (newest first) until the count is bounded
    shared = [i for i in range(n - 1, 0, -1) if len(callers[i]) > 1]
    while shared and _total_paths(callers) > spec.max_paths:
        callers[shared.pop(0)].pop()
    out = []
    for callee, mine in enumerate(callers):
        for caller in mine:
            r = spec.entry_fanout if caller == 0 else spec.inner_fanout
            out.append((caller, callee, round(_log_u(rng, r), 3)))
    return out


def random_graph(spec: GraphSpec, rng: np.random.Generator, *,
                 name: str = "random") -> ServiceGraph:
    """A random app graph (see the module docstring)."""
    n = int(rng.integers(spec.services[0], spec.services[1] + 1))
    names = ["entry", *(f"svc-{i}" for i in range(1, n))]
    services = {names[i]: _service(rng, spec) for i in range(n)}
    calls = [{"from": names[a], "to": names[b], "fanout": f} for a, b, f in _calls(n, rng, spec)]
    return parse_graph({"name": name, "entry": "entry", "services": services, "calls": calls},
                       name=name)


def unloaded_p95_ms(graph: ServiceGraph) -> float:
    """End-to-end p95 with every service far from saturation (the least any sizing can give)."""
    config = TwinConfig(graph, Slo(1e9, 1.0))
    rates = 1e-3 * config.visit_ratios[None, :]
    big = np.full((1, len(graph.services)), 1000)
    zeros = np.zeros(big.shape)
    m = tick_metrics(config, rates, Trajectory(big, big, zeros, zeros), service_p95=False)
    return float(m.e2e_p95_ms[0])


def random_slo(graph: ServiceGraph, spec: GraphSpec, rng: np.random.Generator) -> Slo:
    """A p95 SLO a random multiple of the app's unloaded p95 (10 ms steps)."""
    p95 = unloaded_p95_ms(graph) * float(rng.uniform(*spec.slo_over_unloaded))
    return Slo(float(max(10.0, 10.0 * np.ceil(p95 / 10.0))), 0.001)


def random_app_scenario(base: Scenario, graph_spec: GraphSpec, spec: RandomizationSpec,
                        rng: np.random.Generator) -> Scenario:
    """`base`'s calendar and workload shape on a random app: a random graph and SLO, demand
    scaled so the busiest service needs 3-40 replicas at the ordinary daily peak, then the
    curriculum's events, start day, demand scale and noise (`envs.randomize.random_scenario`)."""
    graph = random_graph(graph_spec, rng, name="random-app")
    slo = random_slo(graph, graph_spec, rng)
    per_replica = float(np.min(graph.array("capacity_rps") / graph.visit_ratios()))
    peak = max(base.workload.weekly_profile) * max(base.workload.daily_profile)
    base_rps = _log_u(rng, (3.0, 40.0)) * per_replica / peak
    app = replace(base, name="random-app", graph=graph, slo=slo, trace_rps=None,
                  workload=replace(base.workload, base_rps=base_rps))
    return random_scenario(app, spec, rng, graph=False)

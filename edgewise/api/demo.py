"""`edgewise serve --demo`: a few twin scenarios run now, their request counts and series put in
the store, so a newcomer sees a populated dashboard with no cluster and no Prometheus.

Each scenario becomes an app whose last simulated tick is the present moment; its SLOs are a
latency objective at the scenario's own latency SLO and an availability objective.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from edgewise.api.sources import within_name
from edgewise.api.store import Store
from envs.sli import request_counts
from slo.model import Objective, Slo

SCENARIOS = ("black-friday", "flash-sale")
POLICIES = ("hpa", "keda", "seasonal-naive", "static-peak")
SHOWN = "hpa"  # the policy whose run the app pages show


def demo_slos(scenarios: tuple[str, ...] = SCENARIOS) -> tuple[Slo, ...]:
    from envs.scenario import load_scenario

    out = []
    for name in scenarios:
        sc = load_scenario(name)
        out.append(Slo(f"{name}-latency", name, Objective.LATENCY, 0.995, 28,
                       threshold_seconds=sc.slo.p95_latency_ms / 1000.0))
        out.append(Slo(f"{name}-availability", name, Objective.AVAILABILITY, 0.999, 28))
    return tuple(out)


def load_demo(store: Store, now_epoch: float, slos: tuple[Slo, ...],
              scenarios: tuple[str, ...] = SCENARIOS,
              on_step: Callable[[str], None] = lambda _: None) -> None:
    from envs.scenario import load_scenario
    from evaluation.compare import BASELINES, results, run_bench

    for name in scenarios:
        on_step(name)
        sc = load_scenario(name)
        policies = [p for p in POLICIES if p in BASELINES]
        bench = run_bench(sc, policies, 0, jobs=os.cpu_count() or 1)
        store.put_run(f"{name}-seed0", name, results(bench))
        ep = next(e for e in bench.episodes if e.policy == SHOWN)
        thresholds = tuple(s.threshold_seconds for s in slos
                           if s.app == name and s.threshold_seconds is not None)
        counts = request_counts(sc.config(), bench.run_rps, ep.trajectory, thresholds)
        ticks = len(bench.run_rps)
        stamps = (int(now_epoch) - (ticks - 1 - np.arange(ticks)) * sc.tick_seconds).tolist()
        entry = sc.graph.index(sc.graph.entry)

        def put(series: str, values: np.ndarray, app: str = name,
                at: list[int] = stamps) -> None:
            store.put_samples(app, series, list(zip(at, values.astype(float).tolist(),
                                                    strict=True)))

        put("requests", counts.requests)
        put("errors", counts.errors)
        for s in slos:
            if s.app == name and s.threshold_seconds is not None:
                put(within_name(s), counts.within[:, thresholds.index(s.threshold_seconds)])
        put("demand_rps", bench.run_rps)
        put("replicas_desired", ep.trajectory.desired[:, entry])
        put("replicas_ready", ep.trajectory.ready[:, entry])
        put("p95_latency_ms", ep.metrics.e2e_p95_ms)
        put("error_ratio", ep.metrics.error_ratio)

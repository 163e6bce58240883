"""`edgewise serve --demo`: a few twin scenarios run now, their request counts and series put in
the store, so a newcomer sees a populated dashboard with no cluster and no Prometheus.

Each scenario becomes an app whose last simulated tick is the present moment; its SLOs are a
latency objective at the scenario's own latency SLO and an availability objective.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import numpy as np

from edgewise.api.sources import within_name
from edgewise.api.store import Store
from envs.scenario import Scenario
from envs.sli import request_counts
from planning.dayahead import day_ahead
from slo.model import Objective, Slo

SCENARIOS = ("black-friday", "flash-sale")
POLICIES = ("hpa", "keda", "seasonal-naive", "static-peak")
SHOWN = "hpa"  # the policy whose run the app pages show
PLANNED = ("black-friday",)  # scenarios whose event gets an `edgewise plan` in the demo
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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
        forecast = day_ahead(sc, 0)
        for series, values in (("forecast_p50_rps", forecast.p50_rps),
                               ("forecast_p90_rps", forecast.p90_rps)):
            ok = np.isfinite(values)
            put(series, values[ok], at=[t for t, k in zip(stamps, ok, strict=True) if k])
        if name in PLANNED:
            on_step(f"{name} (event plan)")
            offset = stamps[-1] - (sc.start.replace(tzinfo=UTC).timestamp()
                                   + (ticks - 1) * sc.tick_seconds)
            demo_plan(store, sc, offset)
    if (EXAMPLES / "fleet-small.yaml").exists():  # a source checkout (the examples' files)
        on_step("placement of examples/boutique-placement.yaml")
        demo_placement(store)


def demo_plan(store: Store, sc: Scenario, offset_seconds: float) -> None:
    """`edgewise plan` for the scenario's event (no what-ifs), moved as the run was."""
    from edgewise.api.artifacts import load_plan
    from planning.plan import PlanSettings, make_plan
    from planning.report import plan_json, write_plan_csv

    plan = make_plan(sc, PlanSettings())
    with tempfile.TemporaryDirectory(prefix="edgewise-demo-plan-") as d:
        out = Path(d)
        write_plan_csv(plan, out / "plan.csv")
        (out / "plan.json").write_text(json.dumps(plan_json(plan, (), sc.graph.entry)))
        load_plan(store, out, offset_seconds)


def demo_placement(store: Store) -> None:
    """`edgewise place` (heuristic) of the example app on the example fleet."""
    from edgewise.api.artifacts import load_placement
    from placement.framework import Context
    from placement.heuristic import solve_heuristic
    from placement.plugins import default_framework
    from placement.report import plan_document
    from placement.requirements import load_app
    from placement.topology import load_topology

    topo_file = EXAMPLES / "fleet-small.yaml"
    problem = default_framework().build(Context(load_topology(topo_file),
                                                load_app(EXAMPLES / "boutique-placement.yaml")))
    with tempfile.TemporaryDirectory(prefix="edgewise-demo-place-") as d:
        out = Path(d) / "plan.json"
        out.write_text(json.dumps(plan_document(solve_heuristic(problem))))
        load_placement(store, out, topo_file)

"""Compare scaling policies on one seeded scenario: results.json, timeline.csv, report.html."""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.graph import ServiceGraph
from envs.scenario import Scenario
from envs.twin_config import TwinConfig
from evaluation.clairvoyant import OraclePolicy, StaticPeakPolicy
from evaluation.episode import Episode, run_episode
from evaluation.frontier import beyond_frontier, frontier, frontier_settings
from evaluation.report import write_report
from scaler.forecast_policy import holt_winters, seasonal_naive
from scaler.guardrails import GuardedPolicy, Guardrails
from scaler.hpa.policy import HpaPolicy
from scaler.keda import KedaPolicy
from scaler.policy import Policy
from scaler.slo_floor import FloorKind, floor_policy

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PolicyFactory = Callable[[Scenario, np.ndarray], Policy]

BASELINES: dict[str, PolicyFactory] = {
    "hpa": lambda sc, run: HpaPolicy(),
    "keda": lambda sc, run: KedaPolicy(),
    "holt-winters": lambda sc, run: holt_winters(sc.tick_seconds),
    "seasonal-naive": lambda sc, run: seasonal_naive(sc.tick_seconds),
    "static-peak": lambda sc, run: StaticPeakPolicy(sc.config(), run),
    "oracle": lambda sc, run: OraclePolicy(sc.config(), run),
}
# The HPA targets and KEDA thresholds of the cost-vs-violations frontier (hpa-30 .. keda-90).
BASELINES.update({k: v for k, v in frontier_settings().items() if k not in BASELINES})


def rl_factories(model: str | Path = "default", *, check_graph: ServiceGraph | None = None,
                 trusted_keys: Sequence[Ed25519PublicKey] = (),
                 floor: FloorKind = FloorKind.SLO) -> dict[str, PolicyFactory]:
    """`rl` (the controller's default guardrails and floor: the SLO's needs at the observed
    rate, or with `floor=FloorKind.HPA` the HPA at 70%) and `rl-raw` (no guardrails) for an
    exported model; loads it now (a bad model raises scaler.errors.ModelError here; with
    `trusted_keys`, so does an unsigned or mis-signed one)."""
    from scaler.learned.runtime import RLPolicy

    loaded = RLPolicy.load(model, trusted_keys=trusted_keys)
    if check_graph is not None:
        loaded.check_graph(check_graph)

    def guarded(sc: Scenario, run: np.ndarray) -> Policy:
        return GuardedPolicy(loaded.clone(), Guardrails(), floor=floor_policy(floor, HpaPolicy()),
                             name="rl")

    return {"rl": guarded, "rl-raw": lambda sc, run: loaded.clone()}


def _lazy_rl(name: str) -> PolicyFactory:
    made: dict[str, PolicyFactory] = {}

    def factory(sc: Scenario, run: np.ndarray) -> Policy:
        if not made:
            made.update(rl_factories())
        return made[name](sc, run)

    return factory


BASELINES.update({"rl": _lazy_rl("rl"), "rl-raw": _lazy_rl("rl-raw")})  # numpy only


@dataclass(frozen=True)
class BenchRun:
    scenario: Scenario
    seed: int
    run_rps: np.ndarray
    episodes: tuple[Episode, ...]


@dataclass(frozen=True)
class Arm:
    """One line of a comparison: a policy, optionally in a placement's twin config (then
    labelled `policy@placement`) with a WAN outage mask."""

    label: str
    policy: str
    config: TwinConfig | None = None
    unreachable: np.ndarray | None = None


def run_bench(
    scenario: Scenario,
    arms: Sequence[str | Arm],
    seed: int,
    *,
    factories: dict[str, PolicyFactory] | None = None,
    jobs: int = 1,
    on_ticks: Callable[[int], None] | None = None,
) -> BenchRun:
    """Every arm on the same demand (same seed). With `jobs` > 1 the built-in baselines run
    in worker processes; `on_ticks(n)` is told as ticks complete (for a progress bar)."""
    history, run = scenario.demand(seed)
    todo = [a if isinstance(a, Arm) else Arm(a, a) for a in arms]
    if jobs <= 1 or factories is not None:
        made = factories or BASELINES
        tick = (lambda: on_ticks(1)) if on_ticks else None
        episodes = tuple(_run_arm(scenario, arm, made, seed, tick) for arm in todo)
        return BenchRun(scenario, seed, run, episodes)
    ctx = mp.get_context("fork")
    counter = ctx.Value("l", 0)
    with ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_init_worker, initargs=(counter,)
    ) as pool:
        futures = [pool.submit(_episode, scenario, arm, seed) for arm in todo]
        seen = 0
        while not all(f.done() for f in futures):
            wait(futures, timeout=0.5)
            if on_ticks:
                now = int(counter.value)
                on_ticks(now - seen)
                seen = now
        return BenchRun(scenario, seed, run, tuple(f.result() for f in futures))


def _run_arm(scenario: Scenario, arm: Arm, made: dict[str, PolicyFactory], seed: int,
             on_tick: Callable[[], None] | None) -> Episode:
    history, run = scenario.demand(seed)
    policy = made[arm.policy](scenario, run)
    episode = run_episode(scenario, policy, history, run, seed=seed, on_tick=on_tick,
                          config=arm.config, unreachable=arm.unreachable)
    return replace(episode, policy=arm.label)


_COUNTER: Any = None
_REPORT_EVERY = 200


def _init_worker(counter: Any) -> None:
    global _COUNTER
    _COUNTER = counter


def _episode(scenario: Scenario, arm: Arm, seed: int) -> Episode:
    done = [0]

    def tick() -> None:
        done[0] += 1
        if done[0] % _REPORT_EVERY == 0:
            with _COUNTER.get_lock():
                _COUNTER.value += _REPORT_EVERY

    episode = _run_arm(scenario, arm, BASELINES, seed, tick)
    with _COUNTER.get_lock():
        _COUNTER.value += done[0] % _REPORT_EVERY
    return episode


def results(bench: BenchRun) -> dict[str, object]:
    sc = bench.scenario
    policies = {ep.policy: asdict(ep.summary) for ep in bench.episodes}
    points = frontier(policies)
    names = {p.setting for p in points}
    return {
        "scenario": sc.name,
        "seed": bench.seed,
        "tick_seconds": sc.tick_seconds,
        "duration_seconds": sc.ticks * sc.tick_seconds,
        "slo": {"p95_latency_ms": sc.slo.p95_latency_ms, "max_error_ratio": sc.slo.max_error_ratio},
        "events": [
            {
                "name": e.name,
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
                "multiplier": e.multiplier,
                "announced": e.announced,
            }
            for e in sc.events
        ],
        "policies": policies,
        "frontier": [asdict(p) for p in points],
        "beyond_frontier": {
            name: beyond_frontier(s["slo_violation_minutes"], s["replica_hours"], points)
            for name, s in policies.items() if name not in names
        },
    }


def write_timeline(bench: BenchRun, path: Path) -> None:
    """One row per tick and policy: demand, replicas, end-to-end p95, errors, cost."""
    sc = bench.scenario
    names = sc.graph.names
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "time",
                "policy",
                "entry_rate_rps",
                "e2e_p95_latency_ms",
                "error_ratio",
                "slo_violated",
                "cost",
                "replicas_total",
            ]
            + [f"replicas_{n}" for n in names]
            + [f"ready_{n}" for n in names]
        )
        stamps = [
            (sc.start + timedelta(seconds=i * sc.tick_seconds)).isoformat() for i in range(sc.ticks)
        ]
        for ep in bench.episodes:
            m, tr = ep.metrics, ep.trajectory
            for i, stamp in enumerate(stamps):
                w.writerow(
                    [
                        stamp,
                        ep.policy,
                        f"{bench.run_rps[i]:.3f}",
                        f"{m.e2e_p95_ms[i]:.1f}",
                        f"{m.error_ratio[i]:.6f}",
                        int(m.violation[i]),
                        f"{m.cost[i]:.5f}",
                        int(tr.desired[i].sum()),
                    ]
                    + [int(x) for x in tr.desired[i]]
                    + [int(x) for x in tr.ready[i]]
                )


def write_outputs(bench: BenchRun, out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    res = results(bench)
    (out / "results.json").write_text(json.dumps(res, indent=2, allow_nan=False) + "\n")
    write_timeline(bench, out / "timeline.csv")
    write_report(bench.scenario, bench.run_rps, bench.episodes, out / "report.html")
    return res

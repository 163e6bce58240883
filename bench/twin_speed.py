"""How fast is the twin? One simulated year of `boutique` at 60 s ticks, and Ciw on a slice.

Prints, and with `--json FILE` writes:
- simulated_year_seconds / simulated_year_cpu_seconds: wall and CPU (process) time to simulate
  and score one year (525,600 ticks x 12 services) through the vectorized schedule path
  (`run_schedule` + `summarize`): a replica schedule known in advance, as the planner and the
  oracle use it; the end-to-end p95 by the twin's solver (safeguarded Newton on the slowest
  path's mixture tail, envs/path_latency.py);
- baseline_year_seconds / baseline_year_cpu_seconds: the same year, in the same run, with the
  reference solver (`PathSolver.BISECTION`, issue 15's first: per-path bisection), and
  speedup_cpu, its CPU time over the twin's; max_p95_rel_diff: the largest relative difference
  of the two runs' per-tick end-to-end p95 (the reference is ~0.05% from the root);
- closed_loop_year_seconds: the same year with a policy in the loop (`Twin.step` every tick,
  the policy a fixed-utilisation rule reading each observation), then scored;
- ticks_per_second: closed-loop ticks per second;
- ciw_seconds_same_slice / twin_seconds_same_slice: Ciw (a discrete-event simulator) and the twin
  on the same slice (every boutique service as an M/M/c node at its load, `--slice-minutes`), and
  their ratio. Both are measured in this run, on this machine.

    python bench/twin_speed.py [--json FILE] [--slice-minutes 2]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from envs.graph import load_graph
from envs.observation import Slo
from envs.outcome import TickMetrics, summarize
from envs.path_latency import PathSolver
from envs.twin import Twin, run_schedule
from envs.twin_config import TwinConfig
from envs.workload import WorkloadSpec, generate

YEAR_TICKS = 365 * 1440
START = datetime(2026, 1, 5)


def _rule(config: TwinConfig, entry: np.ndarray) -> np.ndarray:
    rates = entry[..., None] * config.visit_ratios
    return np.ceil(rates / (config.capacity_rps * 0.7)).astype(int)


def year_schedule(config: TwinConfig, entry: np.ndarray, solver: PathSolver = PathSolver.NEWTON
                  ) -> tuple[float, float, TickMetrics]:
    """Wall and CPU seconds of a scheduled year, and its metrics."""
    t, c = time.perf_counter(), time.process_time()
    desired = _rule(config, entry)
    traj = run_schedule(config, entry, desired, desired[0])
    _, m = summarize(config, entry, traj, np.zeros(len(entry), dtype=bool), solver)
    return time.perf_counter() - t, time.process_time() - c, m


def year_closed_loop(config: TwinConfig, entry: np.ndarray) -> tuple[float, float]:
    twin = Twin(config, entry, START)
    twin.reset(_rule(config, entry[:1])[0])
    t = time.perf_counter()
    while not twin.done:
        obs = twin.observe()
        twin.step(_rule(config, np.asarray(obs.entry_rate_rps)))
    loop = time.perf_counter() - t
    summarize(config, entry, twin.trajectory(), np.zeros(len(entry), dtype=bool))
    return time.perf_counter() - t, len(entry) / loop


def ciw_slice(config: TwinConfig, entry_rps: float, minutes: float) -> float:
    import ciw

    rates = entry_rps * config.visit_ratios
    replicas = _rule(config, np.asarray(entry_rps))
    conc = config.graph.array("concurrency")
    mu = 1000.0 / config.graph.array("service_time_ms")
    t = time.perf_counter()
    for s in range(len(rates)):  # independent M/M/c nodes, each at its own load
        net = ciw.create_network(
            arrival_distributions=[ciw.dists.Exponential(float(rates[s]))],
            service_distributions=[ciw.dists.Exponential(float(mu[s]))],
            number_of_servers=[int(replicas[s] * conc[s])],
        )
        ciw.seed(s)
        ciw.Simulation(net).simulate_until_max_time(minutes * 60)
    return time.perf_counter() - t


def twin_slice(config: TwinConfig, entry_rps: float, minutes: float) -> float:
    ticks = max(1, int(minutes * 60 // config.tick_seconds))
    entry = np.full(ticks, entry_rps)
    t = time.perf_counter()
    desired = _rule(config, entry)
    summarize(
        config, entry, run_schedule(config, entry, desired, desired[0]), np.zeros(ticks, dtype=bool)
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument(
        "--slice-minutes", type=float, default=2.0, help="Ciw slice (simulated minutes)"
    )
    args = ap.parse_args()
    config = TwinConfig(load_graph("boutique"), Slo(400.0, 0.001))
    entry = generate(WorkloadSpec(), (), START, YEAR_TICKS, 60, np.random.default_rng(0))
    schedule_s, schedule_cpu, fast = year_schedule(config, entry)
    base_s, base_cpu, ref = year_schedule(config, entry, PathSolver.BISECTION)
    diff = float(np.max(np.abs(fast.e2e_p95_ms / ref.e2e_p95_ms - 1.0)))
    closed_s, tps = year_closed_loop(config, entry)
    mean_rps = float(entry.mean())
    ciw_s = ciw_slice(config, mean_rps, args.slice_minutes)
    twin_s = twin_slice(config, mean_rps, args.slice_minutes)
    figures = {
        "simulated_year_seconds": round(schedule_s, 3),
        "simulated_year_cpu_seconds": round(schedule_cpu, 3),
        "baseline_year_seconds": round(base_s, 3),
        "baseline_year_cpu_seconds": round(base_cpu, 3),
        "speedup_cpu": round(base_cpu / schedule_cpu, 2),
        "max_p95_rel_diff": diff,
        "ticks_per_second": round(tps, 1),
        "ciw_seconds_same_slice": round(ciw_s, 3),
        "closed_loop_year_seconds": round(closed_s, 3),
        "twin_seconds_same_slice": round(twin_s, 5),
        "slice_minutes": args.slice_minutes,
        "slice_entry_rps": round(mean_rps, 1),
    }
    print("one simulated year of boutique (525,600 ticks x 12 services):")
    print(
        f"  schedule path (vectorized):  {schedule_cpu:7.2f} s CPU ({schedule_s:.2f} s wall)   "
        f"target <= 10 s CPU: {'met' if schedule_cpu <= 10 else 'MISSED'}"
    )
    print(
        f"  baseline (per-path bisection): {base_cpu:5.2f} s CPU ({base_s:.2f} s wall): "
        f"{base_cpu / schedule_cpu:.1f}x the CPU; per-tick p95 within {diff:.2%} of it"
    )
    print(f"  closed loop (policy per tick): {closed_s:5.2f} s   ({tps:,.0f} ticks/s)")
    print(f"same slice ({args.slice_minutes:g} simulated min at {mean_rps:.0f} rps entry):")
    print(
        f"  ciw {ciw_s:.2f} s, twin {twin_s * 1000:.1f} ms: twin is {ciw_s / twin_s:,.0f}x faster"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Placement at scale, one run, printed (and optionally written as JSON).

    python bench/placement_scale.py [--json FILE] [--seed N] [--no-baseline]

Targets: 100 stores x 12 services solved to optimality by HiGHS in <= 10 s; 2,000 stores by the
heuristic in <= 10 s within 2% of the LP bound; re-plan after one store's WAN loss in <= 1 s;
10,000 stores: the LP bound in <= 10 s and <= 1 GB peak, the heuristic within 1% of it. The
baseline for the bound is the same LP solved as one model (how it was solved before issue 19),
measured in the same run (`--no-baseline` skips it: about 25 s and 1.7 GB).

Peak memory is the process's resident high-water mark (VmHWM) while the bound is computed, reset
just before it (`/proc/self/clear_refs`), so it includes the problem arrays already in memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement.failover import replan  # noqa: E402
from placement.framework import Context, Failures, Problem  # noqa: E402
from placement.heuristic import solve_heuristic  # noqa: E402
from placement.milp import BOUND_STORES_PER_BLOCK, lp_bound, solve_milp  # noqa: E402
from placement.plugins import default_framework  # noqa: E402
from placement.requirements import App, load_app  # noqa: E402
from placement.synthetic import generate_fleet  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "examples" / "boutique-placement.yaml"
MIB = 1024.0


def _reset_peak() -> None:
    """Reset the resident high-water mark (Linux >= 4.0); a no-op elsewhere."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / MIB
    except OSError:
        pass
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / MIB


def _timed_bound(p: Problem, stores_per_block: int) -> tuple[float, float, float]:
    """(bound, seconds, peak MiB) of the LP bound solved in blocks of `stores_per_block`."""
    _reset_peak()
    t = time.perf_counter()
    bound = lp_bound(p, stores_per_block=stores_per_block, time_limit_seconds=600.0)
    return bound, time.perf_counter() - t, _peak_mib()


def fleet_10000(app: App, seed: int, baseline: bool) -> dict[str, Any]:
    p = default_framework().build(Context(generate_fleet(10_000, np.random.default_rng(seed)),
                                          app))
    t = time.perf_counter()
    heur = solve_heuristic(p, with_bound=False)
    heur_s = time.perf_counter() - t
    bound, bound_s, peak = _timed_bound(p, BOUND_STORES_PER_BLOCK)
    obj = heur.objective_usd_per_hour
    gap = (obj - bound) / obj
    print(f"heuristic 10000:  {heur_s:7.3f} s  ${obj:.2f}/h  ({heur.exact_stores} stores solved "
          f"exactly)")
    print(f"  LP bound:       {bound_s:7.3f} s  peak {peak:.0f} MiB  ${bound:.2f}/h  gap "
          f"{100 * gap:.3f}%  (targets <= 10 s, <= 1024 MiB, gap <= 1%)")
    out: dict[str, Any] = {
        "heuristic_10000_seconds": round(heur_s, 4),
        "bound_10000_seconds": round(bound_s, 4),
        "bound_10000_peak_mib": round(peak, 1),
        "gap_10000": round(gap, 6),
    }
    if baseline:
        one, one_s, one_peak = _timed_bound(p, p.shape[0])
        print(f"  baseline, one LP: {one_s:5.3f} s  peak {one_peak:.0f} MiB  ${one:.2f}/h  "
              f"(blocks: {bound_s / one_s:.3f}x the time, {peak / one_peak:.3f}x the memory; "
              f"bounds differ by {abs(one - bound) / one:.1e})")
        out |= {"bound_10000_baseline_seconds": round(one_s, 4),
                "bound_10000_baseline_peak_mib": round(one_peak, 1),
                "bound_10000_time_ratio": round(bound_s / one_s, 4),
                "bound_10000_memory_ratio": round(peak / one_peak, 4)}
    return out


FLEET = Path(__file__).resolve().parents[1] / "examples" / "fleet-small.yaml"


def twin_latency_cost_ratios(app: App) -> dict[str, float]:
    """The Edgewise plan against all-in-cloud, measured in the twin for every store of the
    example fleet: a normal day of each store's demand, the oracle policy sizing replicas (so
    the placement, not the autoscaler, makes the difference). Latency: the demand-weighted mean
    of each store's shopper-facing p95; cost: the fleet's total."""
    from envs.scenario import load_scenario
    from evaluation.compare import Arm, run_bench
    from placement.simulate import placed_runs, store_scenario
    from placement.topology import load_topology

    topology = load_topology(FLEET)
    base = load_scenario("normal-week")
    base = replace(base, duration_seconds=86_400, history_seconds=86_400)
    p95 = {"all-cloud": 0.0, "edgewise": 0.0}
    cost = dict(p95)
    weight = 0.0
    for store in topology.stores:
        sc = store_scenario(base, app, topology, store.name)
        arms = [Arm(r.variant, "oracle", r.config, r.unreachable)
                for r in placed_runs(sc, topology, app, store.name) if r.variant in p95]
        for ep in run_bench(sc, arms, seed=0).episodes:
            p95[ep.policy] += store.demand_rps * ep.summary.p95_latency_ms
            cost[ep.policy] += ep.summary.cost
        weight += store.demand_rps
    lat = p95["edgewise"] / p95["all-cloud"]
    cst = cost["edgewise"] / cost["all-cloud"]
    print(f"twin, {len(topology.stores)} stores of {FLEET.name}, a normal day: shopper p95 "
          f"edgewise {p95['edgewise'] / weight:.0f} ms vs all-cloud "
          f"{p95['all-cloud'] / weight:.0f} ms (ratio {lat:.3f}); cost ${cost['edgewise']:.2f} vs "
          f"${cost['all-cloud']:.2f} (ratio {cst:.3f})")
    return {"p95_latency_ratio_vs_cloud": round(lat, 4), "cost_ratio_vs_cloud": round(cst, 4)}


def run(seed: int, baseline: bool = True) -> dict[str, Any]:
    app = load_app(APP)
    fw = default_framework()
    t = time.perf_counter()
    p100 = fw.build(Context(generate_fleet(100, np.random.default_rng(seed)), app))
    milp = solve_milp(p100)
    milp_s = time.perf_counter() - t
    t = time.perf_counter()
    p2000 = fw.build(Context(generate_fleet(2000, np.random.default_rng(seed + 1)), app))
    heur = solve_heuristic(p2000, with_bound=False)
    heur_s = time.perf_counter() - t
    t = time.perf_counter()
    bounded = solve_heuristic(p2000)
    bound_total_s = time.perf_counter() - t
    gap = bounded.gap
    store = p100.ctx.topology.stores[int(np.argmax((milp.site != 0).sum(axis=1)))].name
    t = time.perf_counter()
    f = replan(milp, Failures(wan_lost=frozenset({store})))
    replan_s = time.perf_counter() - t
    out: dict[str, Any] = {
        "milp_100x12_seconds": round(milp_s, 4),
        "heuristic_2000_seconds": round(heur_s, 4),
        "heuristic_2000_gap": round(float(gap if gap is not None else float("nan")), 6),
        "replan_seconds": round(replan_s, 4),
    }
    out |= fleet_10000(app, seed + 2, baseline)
    out |= twin_latency_cost_ratios(app)
    print(f"milp 100x12:      {milp_s:7.3f} s  optimal={milp.optimal}  "
          f"${milp.objective_usd_per_hour:.2f}/h  (target <= 10 s)")
    print(f"heuristic 2000:   {heur_s:7.3f} s  ${heur.objective_usd_per_hour:.2f}/h  "
          f"(target <= 10 s)")
    print(f"  + LP bound:     {bound_total_s:7.3f} s total  gap {100 * (gap or 0):.2f}% "
          f"(target <= 2%)")
    print(f"replan WAN loss:  {replan_s:7.3f} s  {store}: {len(f.moves)} moves  (target <= 1 s)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the one-LP baseline of the 10,000-store bound")
    args = ap.parse_args()
    figures = run(args.seed, baseline=not args.no_baseline)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

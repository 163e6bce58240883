"""The network against its base on boutique scenarios no bench or training run uses.

    python -m bench.network_validation [--model PATH|default] [--policies base,rl-raw]
                                       [--kinds KIND[,KIND]] [--json FILE]

For developing a candidate policy without touching the evaluation scenarios of
`bench.rl_vs_baselines` (issue 15: no tuning on them, nor on its held-out real traces). 21
scenarios of six kinds, each from seeds neither that bench nor any training config draws:
- `announced` (5, seeds 30_001..) and `surprise` (5, 40_001..): one announced event or one
  surprise surge in 3 days, drawn like that bench's randomized scenarios (`RANDOM`);
- `calm` (3, 50_001..): 3 ordinary days, no event: what the noise alone costs;
- `week` (2, 60_001..): 7 days with up to two events, each announced or not;
- `closed` (3, 70_001..): a synthetic shop with closed hours (`closed_hours`): zero demand
  outside opening hours, a jump at opening, a per-order log binned by the minute (so quiet
  minutes have none), smoothed over 15 minutes and scaled to an ordinary daily peak of 300
  requests/s, as `examples/nyc-departures.yaml` imports its real log; an event with
  probability 1/2 (two of the three have one).
- `sparse` (3, 80_001..): the same shop with 0.5-2 orders a minute at its ordinary daily peak
  instead of 1-10, so even smoothed over 15 minutes its rate swings more from tick to tick
  (Poisson counts, not the daily curve): 5-6% at the median and 14-17% at the 90th percentile,
  against the closed shop's 4% and 11%. Added in session 10 after the held-out nyc-departures
  (6.5% and 20%) showed the network trimming after dips that rebound at once; nothing has
  been chosen on it yet.
Prints violation minutes / replica-hours per scenario, per kind and in total.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

import numpy as np

from bench.rl_vs_baselines import RANDOM
from envs.daily_peak import calendar_days, median_daily_peak
from envs.randomize import RandomizationSpec, random_events, random_scenario
from envs.scenario import Scenario, load_scenario
from envs.workload import ar1_path, event_uplift
from evaluation.compare import BASELINES, rl_factories, run_bench
from scaler.learned.base_sizing import BaseSizingPolicy

DAY = 86_400
CLOSED_PEAK_RPS = 300.0
SMOOTH_TICKS = 15
NOISE_CV, NOISE_PHI = 0.08, 0.8  # the closed shop's AR(1) log-noise


def _randomized(announced: bool | None,
                spec: RandomizationSpec = RANDOM) -> Callable[[int], Scenario]:
    def build(seed: int) -> Scenario:
        return random_scenario(load_scenario("black-friday"), spec, np.random.default_rng(seed),
                               graph=False, announced=announced)
    return build


def closed_hours(seed: int, orders_per_minute: tuple[float, float] = (1.0, 10.0)) -> Scenario:
    """A shop open from 06-10 h to 19-23 h, Sundays at 60%, with a per-order log of a uniform
    draw from `orders_per_minute` orders a minute at its ordinary daily peak (see the module
    docstring); 14 days of history, 3 days run."""
    rng = np.random.default_rng(seed)
    bf = load_scenario("black-friday")
    opens, closes = int(rng.integers(6, 11)), int(rng.integers(19, 24))
    start = bf.start + timedelta(days=int(rng.integers(56)))
    history, run = 14 * DAY, 3 * DAY
    run_sc = replace(bf, start=start, duration_seconds=run, history_seconds=history,
                     trace_rps=None)
    events = (random_events(run_sc, replace(RANDOM, max_events=1), rng)
              if rng.random() < 0.5 else ())
    ticks = (history + run) // bf.tick_seconds
    first = start - timedelta(seconds=history)
    offsets = np.arange(ticks, dtype=float) * bf.tick_seconds
    seconds = offsets + first.hour * 3600 + first.minute * 60
    hour = seconds / 3600 % 24
    weekday = (first.weekday() + calendar_days(first, ticks, bf.tick_seconds)) % 7
    is_open = (hour >= opens) & (hour < closes)
    peak = np.where(weekday == 6, 0.6, 1.0)  # Sundays
    ramp = 0.5 + 0.5 * (hour - opens) / max(closes - opens, 1)  # jumps to half at opening
    mean = np.where(is_open, peak * (ramp + event_uplift(events, first, offsets)), 0.0)
    noise = ar1_path(rng.normal(0, NOISE_CV * np.sqrt(1 - NOISE_PHI ** 2), ticks), NOISE_PHI, 0.0)
    orders = float(rng.uniform(*orders_per_minute))  # at the ordinary daily peak
    counts = rng.poisson(mean * np.exp(noise) * orders).astype(float)
    rps = np.convolve(counts, np.ones(SMOOTH_TICKS) / SMOOTH_TICKS, mode="same")
    rps *= CLOSED_PEAK_RPS / median_daily_peak(rps, first, bf.tick_seconds)
    return replace(run_sc, events=events, trace_rps=rps)


KINDS: dict[str, tuple[int, int, Callable[[int], Scenario]]] = {
    "announced": (30_000, 5, _randomized(True)),
    "surprise": (40_000, 5, _randomized(False)),
    "calm": (50_000, 3, _randomized(None, replace(RANDOM, event_probability=0.0))),
    "week": (60_000, 2, _randomized(None, replace(RANDOM, run_seconds=7 * DAY, max_events=2,
                                                  announced_probability=0.5))),
    "closed": (70_000, 3, closed_hours),
    "sparse": (80_000, 3, lambda seed: closed_hours(seed, orders_per_minute=(0.5, 2.0))),
}


def scenarios(kinds: tuple[str, ...] = tuple(KINDS)) -> list[tuple[str, Scenario]]:
    """(kind, scenario) for every validation scenario of `kinds`, in order."""
    out = []
    for kind in kinds:
        seed, count, build = KINDS[kind]
        for k in range(1, count + 1):
            out.append((kind, replace(build(seed + k), name=f"val-{kind}-{k}")))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rl-raw vs base on validation scenarios")
    parser.add_argument("--model", default="default")
    parser.add_argument("--policies", default="base,rl-raw")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    policies = tuple(args.policies.split(","))
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        parser.error(f"--kinds: unknown kind {unknown[0]!r}; known: {', '.join(KINDS)}"
                     if unknown else "--kinds: no kind named")
    BASELINES.update(rl_factories(args.model))
    BASELINES["base"] = lambda sc, run: BaseSizingPolicy()
    rows: dict[str, dict[str, dict[str, float]]] = {}
    by_kind = {k: {p: [0.0, 0.0] for p in policies} for k in kinds}
    for kind, sc in scenarios(kinds):
        bench = run_bench(sc, policies, 0, jobs=2)
        res = {ep.policy: asdict(ep.summary) for ep in bench.episodes}
        rows[sc.name] = {p: {"violation_minutes": res[p]["slo_violation_minutes"],
                             "replica_hours": res[p]["replica_hours"]} for p in policies}
        for p in policies:
            by_kind[kind][p][0] += res[p]["slo_violation_minutes"]
            by_kind[kind][p][1] += res[p]["replica_hours"]
        print(sc.name, " | ".join(f"{p} {res[p]['slo_violation_minutes']:.0f} / "
                                  f"{res[p]['replica_hours']:.0f}" for p in policies), flush=True)
    total = {p: [sum(by_kind[k][p][0] for k in kinds), sum(by_kind[k][p][1] for k in kinds)]
             for p in policies}
    for name, figures in [*by_kind.items(), ("total", total)]:
        print(name, " | ".join(f"{p} {v:.0f} / {rh:.1f}" for p, (v, rh) in figures.items()))
    if args.json:
        args.json.write_text(json.dumps({"scenarios": rows, "kinds": by_kind, "total": total},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

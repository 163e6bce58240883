"""The network against its base on boutique scenarios no bench or training run uses.

    python -m bench.network_validation [--model PATH|default] [--policies base,rl-raw]

For developing a candidate policy without touching the evaluation scenarios of
`bench.rl_vs_baselines` (issue 15: no tuning on them): 3 scenarios with one announced event and
3 with one surprise surge, drawn like that bench's randomized ones (`RANDOM`, 3 days each) but
from seeds 30_001.. and 40_001.., which neither that bench nor any training config draws. Prints
violation minutes / replica-hours per scenario and the totals.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

import numpy as np

from bench.rl_vs_baselines import RANDOM
from envs.randomize import random_scenario
from envs.scenario import Scenario, load_scenario
from evaluation.compare import BASELINES, rl_factories, run_bench
from scaler.learned.base_sizing import BaseSizingPolicy

ANNOUNCED_SEED, SURPRISE_SEED, COUNT = 30_000, 40_000, 3


def scenarios() -> list[Scenario]:
    bf = load_scenario("black-friday")
    out = []
    for k in range(1, COUNT + 1):
        for announced, seed in ((True, ANNOUNCED_SEED), (False, SURPRISE_SEED)):
            sc = random_scenario(bf, RANDOM, np.random.default_rng(seed + k), graph=False,
                                 announced=announced)
            out.append(replace(sc, name=f"val-{'announced' if announced else 'surprise'}-{k}"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rl-raw vs base on validation scenarios")
    parser.add_argument("--model", default="default")
    parser.add_argument("--policies", default="base,rl-raw")
    args = parser.parse_args(argv)
    policies = tuple(args.policies.split(","))
    BASELINES.update(rl_factories(args.model))
    BASELINES["base"] = lambda sc, run: BaseSizingPolicy()
    total = {p: [0.0, 0.0] for p in policies}
    for sc in scenarios():
        bench = run_bench(sc, policies, 0, jobs=2)
        res = {ep.policy: asdict(ep.summary) for ep in bench.episodes}
        for p in policies:
            total[p][0] += res[p]["slo_violation_minutes"]
            total[p][1] += res[p]["replica_hours"]
        print(sc.name, " | ".join(f"{p} {res[p]['slo_violation_minutes']:.0f} / "
                                  f"{res[p]['replica_hours']:.0f}" for p in policies))
    print("total", " | ".join(f"{p} {v:.0f} / {rh:.1f}" for p, (v, rh) in total.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

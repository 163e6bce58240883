"""Brute force is the reference: the MILP must match it, the heuristic must not beat it."""

from __future__ import annotations

import numpy as np
import pytest

from placement.bruteforce import solve_brute_force
from placement.errors import InfeasibleError
from placement.framework import Context, Problem
from placement.heuristic import solve_heuristic
from placement.milp import lp_bound, solve_milp
from placement.plan import violations
from placement.plugins import default_framework
from placement.synthetic import generate_app, generate_fleet

SEEDS = range(24)


def _tiny(seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    app = generate_app(int(rng.integers(3, 7)), rng)
    topo = generate_fleet(int(rng.integers(1, 4)), rng, n_regions=int(rng.integers(1, 4)))
    return default_framework().build(Context(topo, app))


@pytest.mark.parametrize("seed", SEEDS)
def test_milp_matches_brute_force(seed: int) -> None:
    p = _tiny(seed)
    try:
        brute = solve_brute_force(p)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve_milp(p)
        return
    milp = solve_milp(p)
    heur = solve_heuristic(p)
    assert milp.optimal and not violations(p, milp.site, milp.home)
    assert not violations(p, heur.site, heur.home)
    opt = brute.objective_usd_per_hour
    assert milp.objective_usd_per_hour == pytest.approx(opt, rel=1e-5, abs=1e-9)
    assert heur.objective_usd_per_hour >= opt - 1e-9
    assert heur.lower_bound_usd_per_hour is not None
    assert heur.lower_bound_usd_per_hour <= opt + 1e-7
    assert heur.gap is not None and heur.gap >= 0


def test_enough_feasible_tiny_instances() -> None:
    feasible = 0
    for seed in SEEDS:
        try:
            solve_brute_force(_tiny(seed))
            feasible += 1
        except InfeasibleError:
            pass
    assert feasible >= 20


def test_heuristic_close_to_lp_bound_on_boutique(fleet20, boutique) -> None:  # type: ignore[no-untyped-def]
    p = default_framework().build(Context(fleet20, boutique))
    heur = solve_heuristic(p)
    milp = solve_milp(p)
    assert heur.lower_bound_usd_per_hour == pytest.approx(lp_bound(p))
    assert heur.objective_usd_per_hour >= milp.objective_usd_per_hour - 1e-9
    assert heur.gap is not None and heur.gap < 0.05


def test_infeasible_names_store_and_need(boutique) -> None:  # type: ignore[no-untyped-def]
    topo = generate_fleet(3, np.random.default_rng(1))
    tight = topo.model_copy(update={"stores": (topo.stores[0].model_copy(
        update={"cpu_millicores": 200.0}), *topo.stores[1:])})
    p = default_framework().build(Context(tight, boutique))
    with pytest.raises(InfeasibleError) as e:
        solve_milp(p)
    msg = str(e.value)
    assert msg.startswith("store-001 has 0.2 vCPU free;") and "live-inventory" in msg
    assert "OfflineRequired" in msg

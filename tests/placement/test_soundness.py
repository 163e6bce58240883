"""Soundness against brute force: the heuristic's plans are feasible constraint by constraint
(checked here from the raw topology and annotations, not the solvers' arrays), its objective is
never below the optimum or the LP bound, its verdict matches the MILP's; the MILP's
infeasibility culprit is a store with no plan and a set of constraints that truly binds."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np
import pytest

from placement.bruteforce import solve_brute_force
from placement.diagnose import families, irreducible, precheck, relax
from placement.errors import InfeasibleError
from placement.framework import EDGE, Context, Problem
from placement.heuristic import solve_heuristic
from placement.milp import solve_milp
from placement.plan import Plan, violations
from placement.plugins import default_framework
from placement.requirements import parse_app
from placement.synthetic import generate_app, generate_fleet
from placement.topology import parse_topology

N_INSTANCES = 520


def _tiny(seed: int) -> Problem:
    """1-2 stores, 2-5 services, 1-3 regions; capacities and WAN squeezed at random so that
    infeasible instances (including ones only a solver can tell) are common."""
    rng = np.random.default_rng(seed)
    app = generate_app(int(rng.integers(2, 6)), rng)
    topo = generate_fleet(int(rng.integers(1, 3)), rng, n_regions=int(rng.integers(1, 4)))
    stores = []
    for s in topo.stores:
        cpu, bw = float(rng.uniform(0.05, 1.0)), float(rng.choice([0.005, 0.02, 0.1, 1.0]))
        stores.append(s.model_copy(update={
            "cpu_millicores": s.cpu_millicores * cpu,
            "wan": s.wan.model_copy(update={"bandwidth_mbps": s.wan.bandwidth_mbps * bw})}))
    topo = topo.model_copy(update={"stores": tuple(stores)})
    return default_framework().build(Context(topo, app))


def _assert_feasible(plan: Plan) -> None:
    """Every requirement, recomputed from the topology and the app's annotations."""
    ctx = plan.problem.ctx
    app, topo = ctx.app, ctx.topology
    headroom = topo.economics.wan_bandwidth_headroom
    for s, store in enumerate(topo.stores):
        site = plan.site[s]
        local = site == EDGE
        assert len({int(k) for k in site if k != EDGE}) <= 1, "one home region per store"
        rps = [store.demand_rps * v for v in app.visit_ratios]
        cpu = mem = gpus = 0.0
        for j, req in enumerate(app.requirements):
            if req.pii_local or req.offline:
                assert local[j], f"{store.name}: {req.name} must be local"
            if req.needs_gpu:
                assert store.gpus >= 1 if local[j] else topo.regions[site[j] - 1].has_gpus
            if req.max_rtt_ms is not None:
                rtt = store.shopper_rtt_ms + (0.0 if local[j] else
                                              store.wan.rtt_ms[topo.regions[site[j] - 1].name])
                assert rtt <= req.max_rtt_ms, f"{store.name}: {req.name} latency"
            if local[j]:
                cpu += req.cpu_base_millicores + req.cpu_millicores_per_rps * rps[j]
                mem += req.memory_base_mib + req.memory_mib_per_rps * rps[j]
                gpus += 1.0 if req.needs_gpu else 0.0
        for a, b in app.offline_closure():
            assert not local[a] or local[b], "offline closure"
        mbps = sum(rps[c.caller] * c.fanout * c.kb_per_call * 8 / 1000 for c in app.calls
                   if local[c.caller] != local[c.callee])
        assert cpu <= store.cpu_millicores + 1e-6, f"{store.name}: CPU {cpu} > capacity"
        assert mem <= store.memory_mib + 1e-6, f"{store.name}: memory"
        assert gpus <= store.gpus, f"{store.name}: GPUs"
        assert mbps <= store.wan.bandwidth_mbps * headroom + 1e-6, f"{store.name}: WAN"


def _outcome(solve: Any, p: Problem) -> Plan | None:
    try:
        plan: Plan = solve(p)
        return plan
    except InfeasibleError:
        return None


def _passes_prechecks(p: Problem) -> bool:
    try:
        precheck(p)
    except InfeasibleError:
        return False
    return True


def test_heuristic_sound_on_random_tiny_instances() -> None:
    seen: Counter[str] = Counter()
    for seed in range(N_INSTANCES):
        p = _tiny(seed)
        brute = _outcome(solve_brute_force, p)
        milp, heur = _outcome(solve_milp, p), _outcome(solve_heuristic, p)
        assert (brute is None) == (milp is None) == (heur is None), f"seed {seed}: verdicts"
        if brute is None or milp is None or heur is None:
            seen["infeasible"] += 1
            seen["past_prechecks"] += _passes_prechecks(p)
            continue
        seen["feasible"] += 1
        _assert_feasible(heur)
        _assert_feasible(milp)
        opt = brute.objective_usd_per_hour
        assert milp.objective_usd_per_hour == pytest.approx(opt, rel=1e-5, abs=1e-9)
        assert heur.objective_usd_per_hour >= opt - 1e-9, f"seed {seed}: beats brute force"
        bound = heur.lower_bound_usd_per_hour
        assert bound is not None and heur.objective_usd_per_hour >= bound - 1e-9
        assert heur.gap is not None and 0 <= heur.gap <= 1
    # the instance family exercises both verdicts, and infeasibility only a solver can tell
    assert seen["feasible"] >= 300 and seen["infeasible"] >= 100, seen
    assert seen["past_prechecks"] >= 10, seen


def _overrun() -> Problem:
    """The issue's instance: a latency-bound 8,000 m frontend and an 8,010 m service on a
    16-vCPU store, 500 KB calls over a 5 Mbps WAN: the service must be local, 16,010 m > 16,000."""
    topo = parse_topology({
        "regions": [{"name": "us-east", "location": {"lat": 39, "lon": -77},
                     "vcpu_hour_usd": 0.04}],
        "stores": [{"name": "store-001", "location": {"lat": 40, "lon": -76},
                    "cpu_millicores": 16000, "memory_mib": 65536, "demand_rps": 2.0,
                    "shopper_rtt_ms": 2.0,
                    "wan": {"rtt_ms": {"us-east": 20.0}, "bandwidth_mbps": 5.0,
                            "availability": 0.999}}]}, name="overrun")
    fixed = {"cpu_millicores_per_rps": 0, "memory_base_mib": 0, "memory_mib_per_rps": 0}
    app = parse_app({"name": "overrun", "entry": "frontend", "services": {
        "frontend": {"capacity_rps": 100, "annotations": {"placement": {
            "max_rtt_ms": 10, "cpu_base_millicores": 8000, **fixed}}},
        "pricing": {"capacity_rps": 100, "annotations": {"placement": {
            "cpu_base_millicores": 8010, **fixed}}}},
        "calls": [{"from": "frontend", "to": "pricing", "fanout": 1.0,
                   "annotations": {"placement": {"kb_per_call": 500}}}]})
    return default_framework().build(Context(topo, app))


def test_overrun_instance_is_infeasible_for_the_heuristic() -> None:
    p = _overrun()
    with pytest.raises(InfeasibleError) as e:
        solve_heuristic(p)
    msg = str(e.value)
    assert msg.startswith("store-001: no plan meets") and "CPU" in msg
    assert "WAN bandwidth" in msg and "LatencyBound (frontend)" in msg
    with pytest.raises(InfeasibleError):
        solve_brute_force(p)


def test_overrun_instance_with_one_more_millicore_fits() -> None:
    p = _overrun()
    roomy = p.ctx.topology.model_copy(update={"stores": (p.ctx.topology.stores[0].model_copy(
        update={"cpu_millicores": 16010.0}),)})
    q = default_framework().build(Context(roomy, p.ctx.app))
    plan = solve_heuristic(q)
    _assert_feasible(plan)
    assert (plan.site == EDGE).all() and plan.gap is not None and plan.gap < 1e-6


def _feasible_by_enumeration(p: Problem, single_home: bool) -> bool:
    n_s, n_j, n_k = p.shape
    assert n_s == 1
    for row in itertools.product(range(n_k), repeat=n_j):
        site = np.array([row], dtype=np.int64)
        regions = {k for k in row if k != EDGE}
        home = np.array([min(regions) - 1 if regions else 0])
        broken = violations(p, site, home)
        if not single_home:
            broken = [b for b in broken if "outside its home region" not in b]
        if not broken:
            return True
    return False


def test_milp_culprit_is_a_store_without_a_plan_and_an_irreducible_set() -> None:
    checked = 0
    for seed in range(N_INSTANCES):
        p = _tiny(seed)
        if not _passes_prechecks(p) or _outcome(solve_brute_force, p) is not None:
            continue  # only what the prechecks miss reaches the culprit search
        with pytest.raises(InfeasibleError) as e:
            solve_milp(p)
        name = str(e.value).split(":")[0]
        s = p.ctx.topology.store_names.index(name)
        single = p.for_stores([s])
        assert not _feasible_by_enumeration(single, True), f"seed {seed}: {name} is feasible"
        keep = irreducible(single)
        everything = set(families(single))
        relaxed, one_home = relax(single, everything - set(keep))
        assert not _feasible_by_enumeration(relaxed, one_home), f"seed {seed}: not infeasible"
        for fam in keep:
            relaxed, one_home = relax(single, everything - set(keep) | {fam})
            assert _feasible_by_enumeration(relaxed, one_home), f"seed {seed}: {fam} not needed"
        checked += 1
    assert checked >= 10

"""Name the constraint an infeasible instance cannot meet, in one line: never a solver status.

`precheck` runs before any solver and catches the obvious cases, e.g. `store-042 has 4 vCPU
free; vision-inference must run there and needs 6 vCPU (vision-inference: LatencyBound)`.
When the prechecks pass but the solver proves infeasibility, `find_culprit` finds the real
culprit: stores share no constraint, so a bisection over stores (feasibility solves) finds an
infeasible store, and a deletion filter over that store's constraint families (CPU, memory,
GPUs, WAN bandwidth, each Filter plugin, the offline closure, the home-region rule) leaves an
irreducible infeasible set: every family named binds, dropping any one of them makes the store
feasible. e.g. `store-001: no plan meets CPU (StoreCapacity: 16 vCPU allocatable), WAN bandwidth
(WanBandwidth: 4 Mbps usable) and LatencyBound (frontend) together; relaxing any one of them
makes store-001 feasible`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum

import numpy as np

from placement.errors import InfeasibleError
from placement.formulation import is_feasible
from placement.framework import EDGE, BoolArray, Problem, Reason


def _no_site(p: Problem) -> str | None:
    ctx = p.ctx
    for s, j in zip(*np.nonzero(~p.allowed.any(axis=2)), strict=True):
        why = [p.filters[int(p.blocked_by[s, j, k])].explain(ctx, int(s), int(j), k)
               for k in range(p.shape[2])]
        unique = list(dict.fromkeys(why))
        return (f"{ctx.topology.stores[s].name}: no site can run {ctx.app.names[j]}: "
                + "; ".join(unique))
    return None


def _forced_local(p: Problem) -> np.ndarray:
    """(S, J) services that may only run at the store."""
    return p.allowed[:, :, EDGE] & ~p.allowed[:, :, 1:].any(axis=2)


def _why_local(p: Problem, s: int, j: int) -> str:
    codes = {p.filters[int(p.blocked_by[s, j, k])].reason.value for k in range(1, p.shape[2])}
    return f"{p.ctx.app.names[j]}: {', '.join(sorted(codes))}"


def _capacity(p: Problem) -> str | None:
    forced = _forced_local(p)
    units = (("vCPU", p.cpu_millicores / 1000.0, p.cpu_capacity / 1000.0),
             ("MiB", p.memory_mib, p.memory_capacity),
             ("GPU", np.broadcast_to(p.gpus, forced.shape), p.gpu_capacity))
    for unit, need, cap in units:
        total = (need * forced).sum(axis=1)
        for s in np.nonzero(total > cap + 1e-9)[0]:
            js = [int(j) for j in np.nonzero(forced[s])[0] if need[s, j] > 0]
            names = ", ".join(p.ctx.app.names[j] for j in js)
            verb = "must run there and needs" if len(js) == 1 else "must run there and need"
            reasons = "; ".join(_why_local(p, int(s), j) for j in js)
            return (f"{p.ctx.topology.stores[s].name} has {cap[s]:g} {unit} free; {names} "
                    f"{verb} {round(float(total[s]), 2):g} {unit} ({reasons})")
    return None


def _home_region(p: Problem) -> str | None:
    cloud_only = ~p.allowed[:, :, EDGE]
    for s in range(p.shape[0]):
        js = np.nonzero(cloud_only[s])[0]
        if len(js) and not p.allowed[s, js, 1:].all(axis=0).any():
            parts = []
            for j in js:
                regions = [p.ctx.site_name(s, int(k)) for k in np.nonzero(p.allowed[s, j])[0]]
                parts.append(f"{p.ctx.app.names[j]} only in {', '.join(regions)}")
            return (f"{p.ctx.topology.stores[s].name}: services that cannot run in the store "
                    f"need different home regions ({'; '.join(parts)})")
    return None


def _bandwidth(p: Problem) -> str | None:
    if not len(p.calls):
        return None
    local = _forced_local(p)
    cloud = ~p.allowed[:, :, EDGE]
    a, b = p.calls[:, 0], p.calls[:, 1]
    must_cross = (local[:, a] & cloud[:, b]) | (cloud[:, a] & local[:, b])
    need = (p.call_mbps * must_cross).sum(axis=1)
    for s in np.nonzero(need > p.bandwidth_mbps + 1e-9)[0]:
        return (f"{p.ctx.topology.stores[s].name} has {p.bandwidth_mbps[s]:g} Mbps of usable WAN; "
                f"calls between its local-only and cloud-only services need {need[s]:.1f} Mbps")
    return None


def precheck(p: Problem) -> None:
    """Raise InfeasibleError naming the first requirement that no plan can meet."""
    for check in (_no_site, _capacity, _home_region, _bandwidth):
        msg = check(p)
        if msg:
            raise InfeasibleError(msg)


class Family(StrEnum):
    """A family of constraints the culprit search can relax (Filters are `filter:<index>`)."""

    CPU = "cpu"
    MEMORY = "memory"
    GPU = "gpu"
    BANDWIDTH = "bandwidth"
    CLOSURE = "closure"
    HOME = "home"


Oracle = Callable[[Problem, bool], bool]  # (problem, single home region) -> feasible


def _milp_oracle(p: Problem, single_home: bool) -> bool:
    return is_feasible(p, single_home=single_home)


def _filter_masks(p: Problem) -> list[BoolArray]:
    return [f.filter(p.ctx) for f in p.filters]


def families(p: Problem) -> list[str]:
    """The constraint families present in a (one-store) problem, in deletion order."""
    out: list[str] = []
    if p.shape[2] > 2:
        out.append(Family.HOME)
    if len(p.closure):
        out.append(Family.CLOSURE)
    out += [f"filter:{i}" for i, m in enumerate(_filter_masks(p)) if not m.all()]
    if p.gpus.any():
        out.append(Family.GPU)
    out.append(Family.MEMORY)
    if len(p.calls):
        out.append(Family.BANDWIDTH)
    out.append(Family.CPU)
    return out


def relax(p: Problem, dropped: set[str]) -> tuple[Problem, bool]:
    """`p` without the constraint families in `dropped`; and whether one home region holds."""
    inf = np.full(p.shape[0], np.inf)
    changes: dict[str, object] = {}
    for fam, attr in ((Family.CPU, "cpu_capacity"), (Family.MEMORY, "memory_capacity"),
                      (Family.GPU, "gpu_capacity"), (Family.BANDWIDTH, "bandwidth_mbps")):
        if fam in dropped:
            changes[attr] = inf
    if Family.CLOSURE in dropped:
        changes["closure"] = np.zeros((0, 2), dtype=np.int64)
    if any(d.startswith("filter:") for d in dropped):
        allowed = np.ones(p.shape, dtype=bool)
        for i, mask in enumerate(_filter_masks(p)):
            if f"filter:{i}" not in dropped:
                allowed &= mask
        changes["allowed"] = allowed
    return replace(p, **changes), Family.HOME not in dropped  # type: ignore[arg-type]


def irreducible(p: Problem, oracle: Oracle = _milp_oracle) -> list[str]:
    """A deletion filter: families of an infeasible one-store `p` that together cannot be met
    and each of which is needed for that."""
    keep = families(p)
    for fam in list(keep):
        trial = [f for f in keep if f != fam]
        relaxed, single = relax(p, set(families(p)) - set(trial))
        if not oracle(relaxed, single):
            keep = trial
    return keep


def _first_infeasible(p: Problem, oracle: Oracle) -> int | None:
    """Bisection over stores of an infeasible fleet: one store with no plan."""
    idx = np.arange(p.shape[0])
    while len(idx) > 1:
        half = idx[: len(idx) // 2]
        idx = half if not oracle(p.for_stores(half), True) else idx[len(idx) // 2:]
    return int(idx[0]) if not oracle(p.for_stores(idx), True) else None


def _describe(p: Problem, fam: str) -> str:
    if fam.startswith("filter:"):
        i = int(fam.split(":")[1])
        blocked = ~p.filters[i].filter(p.ctx)[0].all(axis=1)
        names = ", ".join(n for j, n in enumerate(p.ctx.app.names) if blocked[j])
        return f"{p.filters[i].reason.value} ({names})"
    cap = {Family.CPU: f"CPU ({Reason.CAPACITY.value}: {p.cpu_capacity[0] / 1000:.4g} vCPU "
                       f"allocatable)",
           Family.MEMORY: f"memory ({Reason.CAPACITY.value}: {p.memory_capacity[0]:.6g} MiB)",
           Family.GPU: f"GPUs ({Reason.CAPACITY.value}: {p.gpu_capacity[0]:g})",
           Family.BANDWIDTH: f"WAN bandwidth ({Reason.BANDWIDTH.value}: "
                             f"{p.bandwidth_mbps[0]:.4g} Mbps usable)",
           Family.CLOSURE: f"the offline closure ({Reason.OFFLINE_CLOSURE.value})",
           Family.HOME: f"one home region per store ({Reason.HOME_REGION.value})"}
    return cap[Family(fam)]


def find_culprit(p: Problem, oracle: Oracle = _milp_oracle) -> str:
    """After a solver proved `p` infeasible: the store and the constraints that bind there."""
    s = _first_infeasible(p, oracle)
    if s is None:
        return ("no plan meets capacity, WAN bandwidth and offline closure together, yet every "
                "store is feasible alone (a solver time limit?); try a longer --time-limit")
    single = p.for_stores([s])
    name = p.ctx.topology.stores[s].name
    parts = [_describe(single, f) for f in irreducible(single, oracle)]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
    tail = ("relaxing it" if len(parts) == 1 else "relaxing any one of them")
    return (f"{name}: no plan meets {listed}" + (" together" if len(parts) > 1 else "")
            + f"; {tail} makes {name} feasible")

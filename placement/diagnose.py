"""Name the constraint an infeasible instance cannot meet, in one line, before any solver runs.

e.g. `store-042 has 4 vCPU free; vision-inference must run there and needs 6 vCPU
(vision-inference: LatencyBound)`: never just a solver status.
"""

from __future__ import annotations

import numpy as np

from placement.errors import InfeasibleError
from placement.framework import EDGE, Problem


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


def diagnose_infeasible(p: Problem) -> str:
    """After a solver proved infeasibility that the prechecks missed: the tightest store."""
    forced = _forced_local(p)
    slack = p.cpu_capacity - (p.cpu_millicores * forced).sum(axis=1)
    s = int(np.argmin(slack))
    return (f"no plan meets capacity, WAN bandwidth and offline closure together; tightest is "
            f"{p.ctx.topology.stores[s].name} with {slack[s] / 1000:.2f} vCPU left after the "
            f"services that must run there")

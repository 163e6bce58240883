"""The cost-vs-violations frontier of the tuned baselines a user would try.

A user who cares about an event tunes the HPA's CPU target and KEDA's request-rate threshold.
`edgewise bench` runs both over a range (the 70% settings are `hpa` and `keda` themselves), and
a policy is *beyond the frontier* when it has fewer SLO violation minutes than every one of
those settings that costs no more replica-hours than it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from envs.scenario import Scenario
from scaler.hpa.policy import HpaPolicy
from scaler.keda import KedaPolicy, KedaSettings
from scaler.policy import Policy

Factory = Callable[[Scenario, np.ndarray], Policy]

HPA_TARGET_PERCENTS = (30, 40, 50, 60, 70, 80)
KEDA_THRESHOLD_PERCENTS = (40, 50, 60, 70, 80, 90)  # of one replica's capacity_rps


def setting_name(kind: str, percent: int) -> str:
    """`hpa` and `keda` are the 70% settings; the others are e.g. `hpa-30`, `keda-50`."""
    return kind if percent == 70 else f"{kind}-{percent}"


def _hpa(percent: int) -> Factory:
    return lambda sc, run: HpaPolicy(percent / 100, name=setting_name("hpa", percent))


def _keda(percent: int) -> Factory:
    def make(sc: Scenario, run: np.ndarray) -> Policy:
        policy = KedaPolicy(KedaSettings(target_fraction=percent / 100))
        policy.name = setting_name("keda", percent)
        return policy

    return make


def frontier_settings() -> dict[str, Factory]:
    """Every frontier setting by name, as policy factories `(scenario, run) -> Policy`."""
    out: dict[str, Factory] = {}
    for p in HPA_TARGET_PERCENTS:
        out[setting_name("hpa", p)] = _hpa(p)
    for p in KEDA_THRESHOLD_PERCENTS:
        out[setting_name("keda", p)] = _keda(p)
    return out


FRONTIER_NAMES = tuple(frontier_settings())


@dataclass(frozen=True)
class FrontierPoint:
    setting: str
    slo_violation_minutes: float
    replica_hours: float
    pareto: bool  # no other setting is at least as good on both and better on one


def frontier(summaries: Mapping[str, Mapping[str, float]]) -> list[FrontierPoint]:
    """The frontier settings present in `summaries` (policy -> results.json figures)."""
    pts = [(n, float(summaries[n]["slo_violation_minutes"]), float(summaries[n]["replica_hours"]))
           for n in FRONTIER_NAMES if n in summaries]

    def dominated(v: float, r: float) -> bool:
        return any(v2 <= v and r2 <= r and (v2 < v or r2 < r) for _, v2, r2 in pts)

    return [FrontierPoint(n, v, r, not dominated(v, r)) for n, v, r in pts]


def beyond_frontier(violation_minutes: float, replica_hours: float,
                    points: list[FrontierPoint]) -> bool:
    """True when every setting with replica-hours <= `replica_hours` has more violation
    minutes (true as well when no setting is that cheap)."""
    return all(violation_minutes < p.slo_violation_minutes for p in points
               if p.replica_hours <= replica_hours)

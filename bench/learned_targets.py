"""Issue 15's learned-policy targets from a bench run's results (pure; used by rl_vs_baselines).

- `network_gain`: what the network adds to its own base sizing. `rl-raw` (the network, no
  guardrails) against `base` (the same encoder's base sizing, action 0: scaler/learned/
  base_sizing.py), per scenario and on the scenario mean of replica-hours and of (all) violation
  minutes. Met when rl-raw has at least 5% fewer replica-hours at no more violation minutes, or at
  least 30% fewer violation minutes at no more replica-hours.
- `unseen_graph`: the policies on an app graph no training saw (zero-shot): violation minutes
  (all and in events) and replica-hours of rl, rl-raw, base, hpa, keda and the oracle; met when
  rl's event violations are at most 20% of the HPA's (and, if the HPA has none, at most its
  total).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Results = Mapping[str, Mapping[str, Any]]  # policy -> EpisodeSummary as a dict

RH_GAIN, VIOLATION_GAIN = 0.05, 0.30
UNSEEN_POLICIES = ("rl", "rl-raw", "base", "hpa", "keda", "oracle")


def _figures(res: Results, policy: str) -> dict[str, float]:
    s = res[policy]
    return {"violation_minutes": float(s["slo_violation_minutes"]),
            "event_violation_minutes": float(s["event_slo_violation_minutes"]),
            "replica_hours": round(float(s["replica_hours"]), 1)}


def network_gain(scenarios: Mapping[str, Results]) -> dict[str, Any]:
    """rl-raw against base per scenario and on the mean over `scenarios` (see module doc)."""
    per = {name: {p: _figures(res, p) for p in ("rl-raw", "base")}
           for name, res in scenarios.items()}
    n = max(len(per), 1)

    def mean(p: str, key: str) -> float:
        return sum(row[p][key] for row in per.values()) / n

    rh_net, rh_base = mean("rl-raw", "replica_hours"), mean("base", "replica_hours")
    v_net, v_base = mean("rl-raw", "violation_minutes"), mean("base", "violation_minutes")
    rh_change = rh_net / rh_base - 1 if rh_base else 0.0
    v_change = v_net / v_base - 1 if v_base else 0.0
    met = (rh_change <= -RH_GAIN and v_net <= v_base) or (
        v_base > 0 and v_change <= -VIOLATION_GAIN and rh_net <= rh_base)
    return {"scenarios": per,
            "mean": {"rl-raw_replica_hours": round(rh_net, 1),
                     "base_replica_hours": round(rh_base, 1),
                     "rl-raw_violation_minutes": round(v_net, 2),
                     "base_violation_minutes": round(v_base, 2),
                     "replica_hours_change": round(rh_change, 4),
                     "violation_minutes_change": round(v_change, 4)},
            "met": bool(met)}


def unseen_graph(name: str, graph: str, res: Results, beyond: Mapping[str, bool]) -> dict[str, Any]:
    """The zero-shot figures on the unseen graph's scenario `name` (see module doc)."""
    figures = {p: _figures(res, p) for p in UNSEEN_POLICIES if p in res}
    rl, hpa = figures.get("rl"), figures["hpa"]
    out: dict[str, Any] = {"scenario": name, "graph": graph, "policies": figures,
                           "beyond_frontier": dict(beyond)}
    if rl is not None:
        ev_rl, ev_hpa = rl["event_violation_minutes"], hpa["event_violation_minutes"]
        out["rl_event_violations_over_hpa"] = round(ev_rl / ev_hpa, 3) if ev_hpa else None
        out["met_violations"] = bool(ev_rl <= 0.2 * ev_hpa if ev_hpa
                                     else rl["violation_minutes"] <= hpa["violation_minutes"])
        out["rl_replica_hours_over_hpa"] = round(rl["replica_hours"] / hpa["replica_hours"], 3)
        out["rl_replica_hours_over_oracle"] = round(
            rl["replica_hours"] / figures["oracle"]["replica_hours"], 3)
    return out

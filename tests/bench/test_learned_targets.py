"""network_gain and unseen_graph: the issue's target arithmetic on hand-made results."""

from __future__ import annotations

from bench.learned_targets import network_gain, unseen_graph


def _r(viol: float, event: float, rh: float) -> dict[str, float]:
    return {"slo_violation_minutes": viol, "event_slo_violation_minutes": event,
            "replica_hours": rh}


def test_network_gain_on_the_scenario_mean() -> None:
    trims = {"a": {"rl-raw": _r(2, 1, 940), "base": _r(2, 1, 1000)},
             "b": {"rl-raw": _r(0, 0, 95), "base": _r(1, 0, 100)}}
    g = network_gain(trims)
    assert g["mean"]["replica_hours_change"] == round(1035 / 1100 - 1, 4)
    assert g["met"]  # 5.9% fewer replica-hours, fewer violation minutes
    fewer_violations = {"a": {"rl-raw": _r(6, 1, 1000), "base": _r(10, 1, 1000)}}
    assert network_gain(fewer_violations)["met"]  # 40% fewer at the same replica-hours
    costlier = {"a": {"rl-raw": _r(6, 1, 1001), "base": _r(10, 1, 1000)}}
    assert not network_gain(costlier)["met"]
    small = {"a": {"rl-raw": _r(2, 1, 990), "base": _r(2, 1, 1000)}}
    assert not network_gain(small)["met"]  # 1% is not 5%


def test_unseen_graph_compares_rl_with_the_hpa() -> None:
    res = {"rl": _r(3, 2, 900), "rl-raw": _r(4, 3, 800), "base": _r(4, 3, 800),
           "hpa": _r(20, 10, 1000), "keda": _r(30, 5, 950), "oracle": _r(0, 0, 700)}
    u = unseen_graph("s", "g", res, {"rl": True})
    assert u["met_violations"] and u["rl_event_violations_over_hpa"] == 0.2
    assert u["rl_replica_hours_over_oracle"] == round(900 / 700, 3)
    res["rl"] = _r(3, 3, 900)
    assert not unseen_graph("s", "g", res, {})["met_violations"]

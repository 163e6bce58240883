"""Placements in the twin: RTTs, prices and WAN outages reach the twin's figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from envs.scenario import load_scenario
from evaluation.compare import Arm, run_bench
from placement.requirements import load_app
from placement.simulate import WanOutage, parse_outage, placed_runs, store_scenario
from placement.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]


def test_all_cloud_pays_the_wan_and_an_outage_fails_its_shoppers() -> None:
    topology = load_topology(ROOT / "examples" / "fleet-small.yaml")
    app = load_app(ROOT / "examples" / "boutique-placement.yaml")
    base = replace(load_scenario("normal-week"), duration_seconds=6 * 3600, history_seconds=86_400)
    sc = store_scenario(base, app, topology, "store-003")
    outage = WanOutage(datetime(2026, 10, 5, 2), 3600)
    runs = {r.variant: r for r in placed_runs(sc, topology, app, "store-003", outage)}
    cloud, edge = runs["all-cloud"], runs["edgewise"]
    store = topology.store("store-003")
    assert cloud.config.entry_rtt_ms == store.shopper_rtt_ms + store.wan.rtt_ms["us-east"]
    assert edge.config.entry_rtt_ms == topology.store("store-003").shopper_rtt_ms
    assert cloud.unreachable is not None and cloud.unreachable[2 * 60 : 3 * 60].all()
    assert not cloud.unreachable[: 2 * 60].any() and not cloud.unreachable[3 * 60 :].any()
    arms = [Arm(v, "oracle", r.config, r.unreachable) for v, r in runs.items()]
    figures = {ep.policy: ep.summary for ep in run_bench(sc, arms, seed=0).episodes}
    assert figures["edgewise"].p95_latency_ms < figures["all-cloud"].p95_latency_ms
    assert figures["all-cloud"].slo_violation_minutes >= 60  # the whole outage
    assert figures["edgewise"].dropped_requests < figures["all-cloud"].dropped_requests
    assert all(r.unreachable is not None for r in runs.values())


def test_outage_flag_parses_and_names_the_problem() -> None:
    o = parse_outage("2026-11-27T02:00/2h")
    assert o.start == datetime(2026, 11, 27, 2) and o.duration_seconds == 7200
    try:
        parse_outage("tomorrow")
    except Exception as e:  # noqa: BLE001 - checking the message
        assert "--wan-outage: expected START/DURATION" in str(e)
    else:
        raise AssertionError("a bad outage was accepted")

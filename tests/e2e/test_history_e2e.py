"""Demand history from a real Prometheus: two weeks of a twin scenario's per-service rates
backfilled with `promtool tsdb create-blocks-from openmetrics`, then the controller (real
control plane) with `policy.baseline: holt-winters` loads it through range queries."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from bench.k8slab import Prometheus, wait_for
from tests.e2e.world import World, backfill, decisions, scenario_yaml

pytestmark = pytest.mark.e2e
PERIOD = 5.0  # 14 days at 5 s: 241,920 points, 22 range queries
PROFILE = [1.2 + 0.6 * abs(12 - h) / 12 for h in range(24)]  # 48..72 rps; the live replay: 20
HOLT_WINTERS = {"type": "baseline", "baseline": "holt-winters"}


def _history_world(make_world: Any, ns: str, days: float) -> tuple[World, dict[int, float]]:
    w: World = make_world(ns)
    end = int(time.time()) // 60 * 60 - 60  # a minute ago: before any live scrape
    series = backfill(w.workdir / "tsdb", w.instance, days, end, PROFILE)
    prom = Prometheus(w.workdir / "prometheus", [w.instance], data_dir=w.workdir / "tsdb")
    w.procs.append(prom.start().proc)  # type: ignore[arg-type]
    w.prometheus_url = prom.url
    w.deployment("web", 3)
    w.replay(scenario_yaml(w.workdir / f"{ns}.yaml", None), time.time() + 1)
    w.wait_scraped()
    return w, series


LIVE_SERIES_REASONS = {"SeriesMissing", "SeriesStale"}


def _policy_decides(w: World) -> bool:
    cond = w.condition("shop", "Fallback")
    return cond is not None and cond["status"] == "False"


def _decided(w: World, n: int) -> bool:
    return int((w.get_scaler("shop").get("status") or {}).get("decisions", 0)) >= n


def test_holt_winters_runs_on_two_weeks_of_backfilled_history(make_world: Any) -> None:
    w, series = _history_world(make_world, "history", 14 + 2 / 24)
    w.scaler("shop", period=PERIOD, policy=HOLT_WINTERS)
    ctl, port, log = w.controller("c1")
    # What the controller promises on a loaded machine: a period whose live series is late or
    # missing falls back to the reactive rule and says so (SeriesMissing / SeriesStale), and the
    # policy decides again as soon as the series is back. The two weeks of history always suffice.
    wait_for(lambda: _decided(w, 2) and _policy_decides(w), 120, "a decision by holt-winters")
    status = w.get_scaler("shop")["status"]
    assert status["policy"] == "holt-winters"
    recorded = decisions(log)
    assert any(d["fallback"] is None and d["policy"] == "holt-winters" for d in recorded), recorded
    assert all(d["fallback"] in LIVE_SERIES_REASONS for d in recorded if d["fallback"]), recorded
    # The forecast is the history's daily shape (48..72 rps), not the live 20 rps.
    forecast = status["forecast"]
    same_time_yesterday = [v for t, v in series.items() if abs(t + 86_400 - time.time()) <= 7200]
    assert 0.85 * min(same_time_yesterday) <= forecast["expectedPeakRps"] \
        <= 1.15 * max(same_time_yesterday), (forecast, same_time_yesterday)
    assert forecast["entryRateRps"] == pytest.approx(20.0, rel=0.1)
    assert ctl.alive()


def test_one_day_of_history_falls_back_naming_what_is_missing(make_world: Any) -> None:
    w, _ = _history_world(make_world, "shorthistory", 1)
    w.scaler("shop", period=PERIOD, policy=HOLT_WINTERS)
    ctl, port, log = w.controller("c1")
    wait_for(lambda: _decided(w, 2), 120, "two decisions")
    cond = w.condition("shop", "Fallback")
    assert cond is not None and cond["status"] == "True", cond
    assert cond["reason"] == "InsufficientHistory"
    assert re.search(r"has 24\.\d h, the policy needs 336\.0 h", cond["message"]), cond
    recorded = decisions(log)
    # Every period fell back. A live series that is late or missing in one period (a loaded
    # machine) is reported before the history, which is what the operator must fix first;
    # the history reason stands whenever the live series are fine.
    assert recorded and all(d["reason"] == "FallbackReactive" and d["fallback"]
                            for d in recorded)
    assert any(d["fallback"] == "InsufficientHistory" for d in recorded), recorded
    assert ctl.alive()

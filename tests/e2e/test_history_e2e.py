"""Demand history from a real Prometheus: two weeks of a twin scenario's per-service rates
backfilled with `promtool tsdb create-blocks-from openmetrics`, then the controller (real
control plane) with `policy.baseline: holt-winters` loads it through range queries."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import pytest
import requests

from bench.k8slab import Prometheus, edgewise, free_port, wait_for
from tests.e2e.slo_world import token
from tests.e2e.world import World, backfill, decisions, scenario_yaml

pytestmark = pytest.mark.e2e
PERIOD = 5.0  # 14 days at 5 s: 241,920 points, 22 range queries
PROFILE = [1.2 + 0.6 * abs(12 - h) / 12 for h in range(24)]  # 48..72 rps; the live replay: 20
HOLT_WINTERS = {"type": "baseline", "baseline": "holt-winters"}


def _history_world(make_world: Any, ns: str, days: float
                   ) -> tuple[World, dict[int, float], Prometheus]:
    w: World = make_world(ns)
    end = int(time.time()) // 60 * 60 - 60  # a minute ago: before any live scrape
    series = backfill(w.workdir / "tsdb", w.instance, days, end, PROFILE)
    prom = Prometheus(w.workdir / "prometheus", [w.instance], data_dir=w.workdir / "tsdb")
    w.procs.append(prom.start().proc)  # type: ignore[arg-type]
    w.prometheus_url = prom.url
    w.deployment("web", 3)
    w.replay(scenario_yaml(w.workdir / f"{ns}.yaml", None), time.time() + 1)
    w.wait_scraped()
    return w, series, prom


LIVE_SERIES_REASONS = {"SeriesMissing", "SeriesStale"}


def _policy_decides(w: World) -> bool:
    cond = w.condition("shop", "Fallback")
    return cond is not None and cond["status"] == "False"


def _decided(w: World, n: int) -> bool:
    return int((w.get_scaler("shop").get("status") or {}).get("decisions", 0)) >= n


def test_holt_winters_runs_on_two_weeks_of_backfilled_history(make_world: Any) -> None:
    w, series, prom = _history_world(make_world, "history", 14 + 2 / 24)
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
    _day_ahead_reaches_the_app_page(w, prom, port, status, series)
    assert ctl.alive()


def _day_ahead_reaches_the_app_page(w: World, prom: Prometheus, port: int,
                                    status: dict[str, Any], series: dict[int, float]) -> None:
    """Today's day-ahead P50 (issued at 00:00 UTC: the same hour a week earlier) in the
    scaler's status and on the controller's /metrics; Prometheus scrapes it, and the API
    serves it as the app's forecast series, as the app page draws it."""
    decided = datetime.fromisoformat(status["lastDecision"]["time"].replace("Z", "+00:00"))
    hour = int(decided.timestamp()) // 3600 * 3600 - 7 * 86_400
    week_before = [v for t, v in series.items() if hour <= t < hour + 3600]
    p50 = status["forecast"]["dayAheadP50Rps"]
    assert 0.97 * min(week_before) <= p50 <= 1.03 * max(week_before), (p50, week_before)
    assert status["forecast"]["dayAheadP90Rps"] >= p50
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert re.search(r'edgewise_forecast_requests_per_second\{app="shop",forecast="p90",'
                     r'namespace="history",scaler="shop",service="web"\}', metrics), metrics
    prom.add_jobs([{"job_name": "controller", "scrape_interval": "1s",
                    "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}])
    db = w.workdir / "serve.db"
    viewer = token(db, "viewer")
    api_port = free_port()
    w.procs.append(edgewise(["serve", "--port", str(api_port), "--db", str(db),
                             "--prometheus", prom.url, "--kubeconfig", str(w.kubeconfig)],
                            w.workdir / "serve.log"))
    url = f"http://127.0.0.1:{api_port}"
    wait_for(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, "edgewise serve")

    def served(q: str) -> list[dict[str, Any]]:
        r = requests.get(f"{url}/api/v1/apps/shop/series/forecast_{q}_rps", timeout=10,
                         params={"start": f"{time.time() - 600:.0f}", "end": f"{time.time():.0f}"},
                         headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 200, r.text
        return list(r.json()["series"])

    wait_for(lambda: served("p50"), 60, "the controller's forecast through Prometheus")
    [line] = served("p50")
    assert line["name"] == "web"
    values = [v for _, v in line["points"]]
    assert 0.97 * min(week_before) <= min(values) and max(values) <= 1.03 * max(week_before)
    assert served("p90")


def test_one_day_of_history_falls_back_naming_what_is_missing(make_world: Any) -> None:
    w, _, _ = _history_world(make_world, "shorthistory", 1)
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

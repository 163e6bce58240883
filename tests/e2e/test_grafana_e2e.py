"""deploy/grafana/edgewise.json: every panel's PromQL, run against the real Prometheus holding a
backfilled twin run, the SLO recording rules and the scraped API server, returns series."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.k8slab import wait_for
from tests.e2e.slo_world import slo_world

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="Debian prometheus not installed")]
DASHBOARD = Path(__file__).parents[2] / "deploy/grafana/edgewise.json"


def _targets() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    return [(f"{p['title']} / {t['refId']}", t["expr"]) for p in doc["panels"]
            for t in p["targets"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from slo_world(tmp_path_factory.mktemp("grafana-e2e"))


def test_dashboard_is_well_formed() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "edgewise-slo" and len(doc["panels"]) >= 8
    assert {v["name"] for v in doc["templating"]["list"]} == {"datasource", "app"}
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))


def test_every_panel_query_returns_series(world: dict[str, Any]) -> None:
    for _ in range(5):  # traffic for the server's own request histogram
        requests.get(world["url"] + "/api/v1/slos", timeout=5,
                     headers={"Authorization": f"Bearer {world['token']}"})
    prom = world["prom"].url
    for name, expr in _targets():
        query = expr.replace("$app", ".*").replace("$__rate_interval", "1m")

        def has_series(q: str = query) -> bool:
            r = requests.get(f"{prom}/api/v1/query", params={"query": q}, timeout=5).json()
            assert r["status"] == "success", r
            return bool(r["data"]["result"])

        wait_for(has_series, 60, f"panel {name}: {query}")

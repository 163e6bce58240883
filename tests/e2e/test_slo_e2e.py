"""The point of issue 17: a twin scenario, backfilled into a real Prometheus, gives through the
`edgewise slo rules` recording rules and the API the same SLO attainment as the twin's own
results.json for that run, within rounding.

Only Debian's Prometheus and promtool are needed (no control plane)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bench.k8slab import wait_for
from tests.e2e.slo_world import POLICY, SCENARIO, slo_world

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Debian prometheus (prometheus, promtool) not installed")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from slo_world(tmp_path_factory.mktemp("slo-e2e"))


def _get(world: Any, path: str) -> Any:
    r = requests.get(world["url"] + path, timeout=10,
                     headers={"Authorization": f"Bearer {world['token']}"})
    assert r.status_code == 200, r.text
    return r.json()


def _slos(world: Any) -> dict[str, Any]:
    def ready() -> bool:
        got = _get(world, "/api/v1/slos")
        return all(s["attainment_ratio"] is not None for s in got)
    wait_for(ready, 60, "the recording rules to be evaluated")
    return {s["name"]: s for s in _get(world, "/api/v1/slos")}


def test_api_attainment_equals_the_twins_results_json(world: Any) -> None:
    twin = world["results"]["policies"][POLICY]
    got = _slos(world)
    lat, ava = got["sale-latency"], got["sale-availability"]
    print(f"latency: twin {twin['latency_attainment']!r} api {lat['attainment_ratio']!r}; "
          f"availability: twin {twin['availability_attainment']!r} "
          f"api {ava['attainment_ratio']!r}")
    assert lat["attainment_ratio"] == pytest.approx(twin["latency_attainment"], abs=1e-6)
    assert ava["attainment_ratio"] == pytest.approx(twin["availability_attainment"], abs=1e-6)
    # The run is not trivially perfect: the flash sale costs holt-winters budget on both.
    assert twin["latency_attainment"] < 0.995 and twin["availability_attainment"] < 0.999
    assert lat["error_budget_remaining_ratio"] == pytest.approx(
        1 - (1 - twin["latency_attainment"]) / 0.005, abs=1e-3)
    # The recording rule itself, straight from Prometheus, says the same.
    r = requests.get(f"{world['prom'].url}/api/v1/query", timeout=5, params={
        "query": 'edgewise_slo:sli_error:ratio_window{slo="sale-latency"}'}).json()
    assert float(r["data"]["result"][0]["value"][1]) == pytest.approx(
        1 - twin["latency_attainment"], abs=1e-6)


def test_series_come_from_the_backfilled_run(world: Any) -> None:
    end = world["end"]
    got = _get(world, f"/api/v1/apps/{SCENARIO}/series/replicas_ready"
                      f"?start={end - 3600}&end={end}&step=60")
    assert {s["name"] for s in got["series"]} >= {"frontend"}
    assert all(v >= 1 for s in got["series"] for _, v in s["points"])


def test_prometheus_down_gives_503_then_recovers(world: Any) -> None:
    _slos(world)
    world["prom"].stop()
    try:
        def overview() -> requests.Response:
            return requests.get(world["url"] + "/api/v1/overview", timeout=10,
                                headers={"Authorization": f"Bearer {world['token']}"})
        # The server reads its sources at most every 2 s: within that, the last answer stands.
        wait_for(lambda: overview().status_code == 503, 10, "503 with Prometheus down")
        r = overview()
        assert r.status_code == 503, r.text
        assert r.json()["error"]["field"] == "prometheus"
        page = requests.get(world["url"] + "/", timeout=10,
                            cookies={"edgewise_token": world["token"]})
        assert page.status_code == 503 and "data stale since 20" in page.text
    finally:
        world["prom"].start()
    wait_for(lambda: requests.get(world["url"] + "/api/v1/overview", timeout=5, headers={
        "Authorization": f"Bearer {world['token']}"}).status_code == 200, 60, "recovery")

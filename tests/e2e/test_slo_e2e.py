"""The point of issue 17: a twin scenario, backfilled into a real Prometheus, gives through the
`edgewise slo rules` recording rules and the API the same SLO attainment as the twin's own
results.json for that run, within rounding.

Only Debian's Prometheus and promtool are needed (no control plane)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bench.k8slab import Proc, Prometheus, edgewise, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Debian prometheus (prometheus, promtool) not installed")]
SCENARIO, POLICY = "flash-sale", "hpa"


def _slo_file(path: Path, threshold_ms: float) -> Path:
    sel = {"app": SCENARIO, "job": "twin"}
    path.write_text(yaml.safe_dump({"slos": [
        {"name": "sale-latency", "app": SCENARIO, "objective": "latency",
         "threshold_ms": threshold_ms, "target": "99.5%", "window": "28d", "selector": sel},
        {"name": "sale-availability", "app": SCENARIO, "objective": "availability",
         "target": "99.9%", "window": "28d", "selector": sel}]}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from edgewise.twin_export import openmetrics
    from envs.scenario import load_scenario
    from training.bench import run_bench, write_outputs

    d = tmp_path_factory.mktemp("slo-e2e")
    sc = load_scenario(SCENARIO)
    bench = run_bench(sc, [POLICY], 0, jobs=1)
    results = write_outputs(bench, d / "run")
    assert json.loads((d / "run/results.json").read_text()) == json.loads(json.dumps(results))
    end = int(time.time()) // 60 * 60 - 120  # before Prometheus starts: all in blocks
    om = d / "twin.om"
    om.write_text(openmetrics(sc, bench.run_rps, bench.episodes[0], end,
                              {"job": "twin", "app": SCENARIO}))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                    str(om), str(d / "tsdb")], check=True, capture_output=True, timeout=300)
    slos = _slo_file(d / "slos.yaml", sc.slo.p95_latency_ms)
    rules = d / "rules.yaml"
    assert edgewise(["slo", "rules", "--config", str(slos), "--out", str(rules)],
                    d / "rules.log").popen.wait(60) == 0  # type: ignore[union-attr]
    prom = Prometheus(d / "prometheus", [], data_dir=d / "tsdb", rule_files=[rules]).start()
    procs: list[Proc | Prometheus] = [prom]
    try:
        db = d / "store.db"
        tok = subprocess.run([*edgewise_argv(), "serve", "token", "create", "--role", "viewer",
                              "--db", str(db)], capture_output=True, text=True, check=True)
        port = free_port()
        api = edgewise(["serve", "--port", str(port), "--db", str(db), "--slos", str(slos),
                        "--prometheus", prom.url], d / "serve.log")
        procs.append(api)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, "edgewise serve")
        yield {"url": url, "token": tok.stdout.strip(), "results": results, "prom": prom,
               "end": end, "dir": d}
    finally:
        for p in reversed(procs):
            p.stop()


def edgewise_argv() -> list[str]:
    from bench.k8slab import PYTHON

    return [PYTHON, "-m", "edgewise.cli"]


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
    # The run is not trivially perfect: the flash sale costs hpa budget on both objectives.
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
        r = requests.get(world["url"] + "/api/v1/overview", timeout=10,
                         headers={"Authorization": f"Bearer {world['token']}"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["field"] == "prometheus"
        page = requests.get(world["url"] + "/", timeout=10,
                            cookies={"edgewise_token": world["token"]})
        assert page.status_code == 503 and "data stale since 20" in page.text
    finally:
        world["prom"].start()
    wait_for(lambda: requests.get(world["url"] + "/api/v1/overview", timeout=5, headers={
        "Authorization": f"Bearer {world['token']}"}).status_code == 200, 60, "recovery")

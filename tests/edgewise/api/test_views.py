"""Q4 (a plan beside what happened, its acknowledgement), placement, slices, the forecast
series, pause/resume: the API on a real SQLite store, the cluster as an in-memory `Fleet`
(the port `edgewise/api/cluster.py` implements against the apiserver; e2e covers that)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edgewise.api.artifacts import load_bench, load_placement, load_plan
from edgewise.api.errors import ApiError
from edgewise.api.eventplan import PlanFileError, parse_hours
from edgewise.api.sources import downsample
from tests.edgewise.api.conftest import NOW, Served
from tests.support.cli import REPO, run_cli
from tests.support.planfiles import plan_dir
from tests.support.wgdump import status_file

H = 3600
SCALER = {"apiVersion": "edgewise.io/v1alpha1", "kind": "PredictiveScaler",
          "metadata": {"name": "web", "namespace": "shop", "labels": {"edgewise.io/app": "shop"},
                       "annotations": {}},
          "spec": {"mode": "Active"}, "status": {}}


class MemoryFleet:
    """The `Fleet` port over a dict, applying merge patches as the apiserver does."""

    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {(o["metadata"]["namespace"], o["metadata"]["name"]): copy.deepcopy(o)
                     for o in objs}

    def scalers(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.objs.values()))

    def scaler(self, namespace: str, name: str) -> dict[str, Any]:
        if (namespace, name) not in self.objs:
            raise ApiError(404, f"PredictiveScaler {namespace}/{name} not found", "name")
        return copy.deepcopy(self.objs[namespace, name])

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        def merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
            for k, v in patch.items():
                if isinstance(v, dict):
                    merge(into.setdefault(k, {}), v)
                else:
                    into[k] = v
        obj = self.scaler(namespace, name)
        merge(obj, body)
        self.objs[namespace, name] = obj
        return copy.deepcopy(obj)

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return []


@pytest.fixture
def with_fleet(make_served: Callable[..., Served], tmp_path: Path) -> tuple[Served, MemoryFleet]:
    fleet = MemoryFleet(SCALER)
    s = make_served(fleet=fleet)
    ticks = [NOW - 60 * i for i in range(1440)]
    s.store.put_samples("shop", "replicas_ready", [(t, 2.0 if NOW - t < H else 3.0)
                                                   for t in ticks])
    load_plan(s.store, plan_dir(tmp_path / "plan", NOW))
    return s, fleet


def test_plan_beside_what_happened(with_fleet: tuple[Served, MemoryFleet]) -> None:
    s, _ = with_fleet
    (summary,) = s.get("/api/v1/plans").json()
    assert summary["name"] == "shop-doorbuster" and summary["hours"] == 3
    got = s.get("/api/v1/plans/shop-doorbuster").json()
    assert got["source"] == "store" and [h["planned_rps"] for h in got["hours"]] == [16, 17, 18]
    first, middle, last = got["hours"]
    assert first["actual_mean_rps"] == pytest.approx(16.7)
    assert first["actual_peak_rps"] == pytest.approx(16.7)
    # Demand peaked at 16.7 over a plan of 16: short; 3 ready of 3 planned.
    assert first["short"] and first["short_services"] == [] and first["ready_min"] == {"web": 3}
    # The last hour: 2 ready of 3 planned; demand 16.7 under 18.
    assert last["short_services"] == ["web"] and last["ready_min"] == {"web": 2}
    assert not middle["short"]  # 16.7 under 17, 3 ready of 3
    assert got["short_hours"] == 2
    page = s.get("/q4")
    assert page.status_code == 200 and 'data-plan="shop-doorbuster"' in page.text
    assert page.text.count('class="short"') == 2 and "<svg" in page.text


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("operator", 200)])
def test_acknowledging_a_plan_annotates_the_scaler_and_is_audited(
        with_fleet: tuple[Served, MemoryFleet], role: str | None, status: int) -> None:
    s, fleet = with_fleet
    headers = {"Authorization": f"Bearer {s.tokens[role]}"} if role else {}
    r = s.client.post("/api/v1/plans/shop-doorbuster/acknowledge", headers=headers,
                      json={"namespace": "shop", "name": "web"})
    assert r.status_code == status, r.text
    notes = fleet.objs["shop", "web"]["metadata"]["annotations"]
    if status != 200:
        assert notes == {} and r.json()["error"]["field"] == "authorization"
        return
    sha = r.json()["sha256"]
    assert notes["edgewise.io/acknowledged-plan"] == f"shop-doorbuster@{sha[:12]}"
    assert notes["edgewise.io/acknowledged-by"] == "local:operator-user"
    assert r.json()["acknowledged_by"] == "local:operator-user"
    assert r.json()["acknowledged_scaler"] == "shop/web"
    (entry,) = s.get("/api/v1/audit", role="admin").json()
    assert entry["action"] == "acknowledge-plan" and entry["target"] == \
        "predictivescalers/shop/web"
    assert entry["before"]["edgewise.io/acknowledged-plan"] is None
    assert entry["after"]["edgewise.io/acknowledged-plan"] == f"shop-doorbuster@{sha[:12]}"
    scaler = s.get("/api/v1/apps/shop").json()["scalers"][0]
    assert scaler["acknowledged_plan"] == f"shop-doorbuster@{sha[:12]}"


def test_acknowledging_needs_the_plans_app_and_a_known_plan(
        with_fleet: tuple[Served, MemoryFleet]) -> None:
    s, fleet = with_fleet
    fleet.objs["shop", "other"] = {**copy.deepcopy(SCALER), "metadata": {
        "name": "other", "namespace": "shop", "labels": {"edgewise.io/app": "cart"}}}
    op = {"Authorization": f"Bearer {s.tokens['operator']}"}
    cases = [("shop-doorbuster", {"namespace": "shop", "name": "other"}, 422, "name"),
             ("shop-doorbuster", {"namespace": "shop", "name": "gone"}, 404, "name"),
             ("shop-doorbuster", {"namespace": "Shop", "name": "web"}, 422, "namespace"),
             ("nope", {"namespace": "shop", "name": "web"}, 404, "plan"),
             ("../x", {"namespace": "shop", "name": "web"}, 404, None)]
    for plan, body, status, field in cases:
        r = s.client.post(f"/api/v1/plans/{plan}/acknowledge", headers=op, json=body)
        assert r.status_code == status, (plan, body, r.text)
        assert r.json()["error"]["field"] == field
    assert s.get("/api/v1/audit", role="admin").json() == []


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("operator", 200)])
def test_pause_and_resume(with_fleet: tuple[Served, MemoryFleet], role: str | None,
                          status: int) -> None:
    s, fleet = with_fleet
    headers = {"Authorization": f"Bearer {s.tokens[role]}"} if role else {}
    r = s.client.put("/api/v1/scalers/shop/web/paused", headers=headers, json={"paused": True})
    assert r.status_code == status, r.text
    if status != 200:
        assert "paused" not in fleet.objs["shop", "web"]["spec"]
        return
    assert r.json()["paused"] is True and fleet.objs["shop", "web"]["spec"]["paused"] is True
    assert s.get("/api/v1/overview").json()["apps"][0]["scalers"][0]["paused"] is True
    r = s.client.put("/api/v1/scalers/shop/web/paused", headers=headers, json={"paused": False})
    assert r.json()["paused"] is False
    audit = s.get("/api/v1/audit", role="admin").json()
    assert [(a["action"], a["before"], a["after"]) for a in reversed(audit)] == [
        ("pause", {"paused": False}, {"paused": True}),
        ("resume", {"paused": True}, {"paused": False})]
    assert s.client.put("/api/v1/scalers/shop/web/paused", headers=headers,
                        json={"paused": "maybe"}).status_code == 422


def test_pause_form_from_the_app_page(with_fleet: tuple[Served, MemoryFleet]) -> None:
    s, fleet = with_fleet
    viewer_page = s.get("/apps/shop").text
    assert 'data-testid="pause"' not in viewer_page and 'data-testid="set-Off"' not in viewer_page
    op = {"Authorization": f"Bearer {s.tokens['operator']}"}
    assert 'data-testid="pause"' in s.client.get("/apps/shop", headers=op).text
    r = s.client.post("/apps/shop/scalers/shop/web/paused", data={"paused": "true"},
                      headers=op, follow_redirects=False)
    assert r.status_code == 303 and fleet.objs["shop", "web"]["spec"]["paused"] is True
    evil = {**op, "Origin": "https://evil.example"}
    r = s.client.post("/apps/shop/scalers/shop/web/paused", data={"paused": "false"},
                      headers=evil, follow_redirects=False)
    assert r.status_code == 403 and fleet.objs["shop", "web"]["spec"]["paused"] is True


def test_slices_show_handshake_age_and_traffic(make_served: Callable[..., Served],
                                               tmp_path: Path) -> None:
    from edgewise.api.slicestatus import SliceStatusFiles

    good = status_file(tmp_path / "a.json", NOW - 30, NOW)  # written 30 s ago
    bad = tmp_path / "b.json"
    bad.write_text('{"kind": "SliceStatus"')
    s = make_served()
    s.client.app.state.context.slices = SliceStatusFiles((good, bad, tmp_path / "none.json"))
    got = s.get("/api/v1/slices").json()
    by = {p["peer"]: p for p in got["peers"]}
    assert by["site-b"]["handshake_age_seconds"] == pytest.approx(42)  # counted to now
    assert (by["site-b"]["rx_bytes"], by["site-b"]["tx_bytes"]) == (123456, 654321)
    assert by["site-b"]["state"] == "healthy" and by["site-c"]["state"] == "stale"
    assert by["site-d"]["state"] == "no-handshake" and by["site-d"]["handshake_age_seconds"] is None
    assert got["file_age_seconds"] == {"shop/site-a": pytest.approx(30)}
    assert len(got["problems"]) == 2 and any("b.json" in p for p in got["problems"])
    page = s.get("/slices").text
    assert 'data-peer="shop/site-a/site-b"' in page and "654321" in page
    assert page.count('data-testid="problem"') == 2


def test_placement_map_and_table(make_served: Callable[..., Served], tmp_path: Path) -> None:
    out = tmp_path / "place"
    r = run_cli("place", "--topology", REPO / "examples/fleet-small.yaml", "--app",
                REPO / "examples/boutique-placement.yaml", "--solver", "heuristic",
                "--out", out)
    assert r.code == 0, r.err
    s = make_served()
    name = load_placement(s.store, out, REPO / "examples/fleet-small.yaml")
    (got,) = s.get("/api/v1/placements").json()
    doc = json.loads((out / "plan.json").read_text())
    assert got["name"] == name and got["plan"] == doc
    page = s.get("/placement").text
    assert page.count("<circle") == len(doc["stores"])  # one per store on the map
    assert page.count("data-store=") == len(doc["stores"])
    with pytest.raises(PlanFileError, match="not in the topology"):
        load_placement(s.store, out, _other_topology(tmp_path))


def _other_topology(tmp_path: Path) -> Path:
    import yaml

    topo = yaml.safe_load((REPO / "examples/fleet-small.yaml").read_text())
    for store in topo.get("stores", []):
        store["name"] = "x-" + store["name"]
    p = tmp_path / "other.yaml"
    p.write_text(yaml.safe_dump(topo))
    return p


def test_forecast_series_and_downsampling(served: Served) -> None:
    served.store.put_samples("shop", "forecast_p50_rps", [(NOW - 60 * i, 16.0)
                                                          for i in range(600)])
    got = served.get("/api/v1/apps/shop/series/forecast_p50_rps",
                     params={"start": NOW - 3 * H, "end": NOW, "step": 600}).json()
    (series,) = got["series"]
    assert len(series["points"]) == 19 and series["points"][-1] == [NOW, 16.0]
    pts = [(float(t), float(t)) for t in range(0, 100)]
    assert downsample(pts, 0.0, 10.0) == [(float(t), float(t)) for t in range(9, 100, 10)]


def test_bad_plan_files_and_bench_results(tmp_path: Path, served: Served) -> None:
    d = plan_dir(tmp_path / "p", NOW)
    (d / "plan.csv").write_text("hour_start,p50\n")
    with pytest.raises(PlanFileError, match="plan.csv: expected the columns"):
        load_plan(served.store, d)
    d = plan_dir(tmp_path / "q", NOW)
    (d / "plan.csv").write_text((d / "plan.csv").read_text().replace("15.00", "nan", 1))
    with pytest.raises(PlanFileError, match="not finite"):
        load_plan(served.store, d)
    (tmp_path / "r").mkdir()
    (tmp_path / "r/results.json").write_text('{"scenario": "x", "policies": {"a": {}}}')
    with pytest.raises(PlanFileError, match="lacks cost"):
        load_bench(served.store, tmp_path / "r")
    with pytest.raises(PlanFileError):
        parse_hours("")
    assert served.get("/api/v1/plans").json() == []


@pytest.mark.parametrize(("flags", "needle"), [
    (["--plan", "/nonexistent/plan"], "/nonexistent/plan"),
    (["--bench", "/nonexistent/run"], "/nonexistent/run"),
    (["--placement", "/nonexistent/place"], "--placement needs --topology"),
    (["--workers", "0"], "--workers"),
])
def test_serve_refuses_bad_outputs_with_one_line(tmp_path: Path, flags: list[str],
                                                 needle: str) -> None:
    r = run_cli("serve", "--db", tmp_path / "s.db", *flags)
    assert r.code == 2 and len(r.err_lines) == 1 and needle in r.err, r.err


def test_a_worker_process_builds_the_parents_app(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """--workers N: each uvicorn worker builds the app from the parent's arguments."""
    import argparse

    from fastapi.testclient import TestClient

    from edgewise import serve_cmd
    from edgewise.api.store import migrate

    url = f"sqlite:///{tmp_path / 'w.db'}"
    migrate(url)
    parser = argparse.ArgumentParser()
    serve_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--workers", "2", "--slos",
                              str(REPO / "examples/slos.yaml")])
    keep = {k: v for k, v in vars(args).items() if k != "func"}
    monkeypatch.setenv(serve_cmd.WORKER_ARGS, json.dumps({"args": keep, "url": url,
                                                          "demo": False}))
    app = serve_cmd.worker_app()
    assert TestClient(app).get("/healthz").json() == {"status": "ok"}
    assert TestClient(app).get("/api/v1/slos").status_code == 401


def test_forecast_query_reads_the_twin_export_or_the_apps_scalers() -> None:
    """A twin run's export carries the SLO selector's labels; a live scaler's forecast is the
    controller's gauge, by the scaler's namespace and name; a name that is not a Kubernetes
    name never reaches PromQL."""
    from edgewise.api.prometheus_source import forecast_query

    name = "edgewise_forecast_requests_per_second"
    assert forecast_query({"app": "shop"}, (("ns", "web"),), "p90") == (
        f'max by (service) ({name}{{app="shop",forecast="p90"}} or '
        f'{name}{{namespace="ns",scaler="web",forecast="p90"}})')
    assert forecast_query({}, (("ns", "web"),), "p50") == (
        f'max by (service) ({name}{{namespace="ns",scaler="web",forecast="p50"}})')
    assert forecast_query({}, (), "p50") is None
    assert forecast_query({}, (('ns"} or up{x="', "web"),), "p50") is None


def _bench_dir(d: Path, ticks: int = 1200) -> Path:
    d.mkdir()
    sli = {"latency_attainment": 0.99, "availability_attainment": 0.999}
    policies = {"hpa": {"cost": 10.0, "slo_violation_minutes": 5.0, **sli},
                "hpa-30": {"cost": 14.0, "slo_violation_minutes": 1.0, **sli},
                "rl": {"cost": 8.0, "slo_violation_minutes": 2.0, **sli}}
    (d / "results.json").write_text(json.dumps({"scenario": "flash-sale", "policies": policies,
                                                "slo": {"p95_latency_ms": 250.0}}))
    rows = ["time,policy,entry_rate_rps,e2e_p95_latency_ms,error_ratio,slo_violated,cost,"
            "replicas_total"]
    for p, base in (("hpa", 10), ("hpa-30", 20), ("rl", 5)):
        for i in range(ticks):
            t = datetime(2026, 11, 27) + timedelta(minutes=i)
            p95 = 900.0 if i == 7 else 100.0  # one spike inside the third bucket
            rows.append(f"{t.isoformat()},{p},10,{p95},0,0,0.01,{base + i % 2}")
    (d / "timeline.csv").write_text("\n".join(rows) + "\n")
    return d


def test_bench_timeline_is_read_downsampled_and_drawn(tmp_path: Path, served: Served) -> None:
    name = load_bench(served.store, _bench_dir(tmp_path / "sale"))
    got = served.get(f"/api/v1/runs/{name}/timeline").json()
    assert set(got) == {"hpa", "hpa-30", "rl"}
    rl = got["rl"]
    assert len(rl["t"]) == len(rl["replicas"]) == len(rl["p95_ms"]) == 400  # 1200 ticks by 3
    assert rl["replicas"][0] == pytest.approx(5 + 1 / 3, abs=0.01)  # the bucket's mean
    assert rl["p95_ms"][:3] == [100.0, 100.0, 900.0]  # the bucket's worst: the spike stays
    assert "timeline" not in served.get("/api/v1/runs").json()[0]["results"]
    page = served.get("/runs").text
    assert "sale: replicas (all services)" in page and "sale: end-to-end p95" in page
    assert "<title>rl</title>" in page and "<title>hpa-30</title>" not in page  # settings: scatter
    assert served.get("/api/v1/runs/nope/timeline").status_code == 404


def test_a_bad_timeline_names_its_line_and_stores_nothing(tmp_path: Path, served: Served) -> None:
    d = _bench_dir(tmp_path / "bad", ticks=3)
    (d / "timeline.csv").write_text((d / "timeline.csv").read_text().replace(",100.0,", ",x,", 1))
    with pytest.raises(PlanFileError, match=r"timeline.csv: line 2: could not convert"):
        load_bench(served.store, d)
    assert served.get("/api/v1/runs").json() == []
    (d / "timeline.csv").write_text("time,policy\n")
    with pytest.raises(PlanFileError, match="no column e2e_p95_latency_ms, replicas_total"):
        load_bench(served.store, d)

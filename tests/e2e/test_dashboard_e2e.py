"""The dashboard in real headless Chromium (Debian's, driven by Playwright) against the real
server reading a real Prometheus (a backfilled twin run) and the real apiserver; Kubernetes
ServiceAccount tokens through TokenReview and SubjectAccessReview."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from kubernetes import client

from bench.k8slab import PYTHON, ControlPlane
from controller.spec import GROUP, PLURAL, VERSION
from edgewise.api.eventplan import shifted
from tests.e2e.slo_world import SCENARIO, slo_world
from tests.e2e.world import GRAPH_REAL
from tests.support.cli import REPO
from tests.support.wgdump import status_file

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("chromium") is None,
    reason="needs Debian prometheus and chromium")]
NS = "sale"
CHROMIUM = "/usr/bin/chromium"
TOPOLOGY = REPO / "examples/fleet-small.yaml"


def _scaler_body(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PredictiveScaler",
            "metadata": {"name": name, "namespace": NS, "labels": {"edgewise.io/app": SCENARIO}},
            "spec": {"targets": [{"name": "web", "service": "web", "minReplicas": 1,
                                  "maxReplicas": 30}],
                     "graph": {"inline": GRAPH_REAL}, "mode": "Active", "periodSeconds": 5,
                     "policy": {"type": "baseline", "baseline": "hpa"},
                     "metrics": {"prometheusUrl": "http://127.0.0.1:9", "queries": {
                         "rate": "x", "cpu": "y", "latency": "z"}}}}


def _plan_dir(d: Path, end: int) -> Path:
    """`edgewise plan` for flash-sale's event (no what-ifs), moved as the backfilled run was
    (its last tick at `end`)."""
    from envs.scenario import load_scenario
    from planning.plan import PlanSettings, make_plan
    from planning.report import plan_json, write_plan_csv

    sc = load_scenario(SCENARIO)
    plan = make_plan(sc, PlanSettings())
    raw = d / "plan-raw"
    raw.mkdir()
    write_plan_csv(plan, raw / "plan.csv")
    last = sc.start.replace(tzinfo=UTC).timestamp() + (sc.ticks - 1) * sc.tick_seconds
    doc, text = shifted(plan_json(plan, (), sc.graph.entry), (raw / "plan.csv").read_text(),
                        end - last)
    out = d / "plan"
    out.mkdir()
    (out / "plan.json").write_text(json.dumps(doc))
    (out / "plan.csv").write_text(text)
    return out


def _outputs(d: Path, end: int) -> list[str]:
    """The plan, the world's bench run, a placement of the examples, a slice's status."""
    place = d / "place"
    subprocess.run([PYTHON, "-m", "edgewise.cli", "place", "--topology", str(TOPOLOGY),
                    "--app", str(REPO / "examples/boutique-placement.yaml"), "--solver",
                    "heuristic", "--out", str(place)], check=True, capture_output=True)
    status = status_file(d / "slice-status.json", time.time(), time.time())
    return ["--plan", str(_plan_dir(d, end)), "--bench", str(d / "run"), "--placement",
            str(place), "--topology", str(TOPOLOGY), "--slice-status", str(status)]


@pytest.fixture(scope="module")
def site(crd: client.ApiClient, control_plane: ControlPlane,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    core = client.CoreV1Api(crd)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    client.CustomObjectsApi(crd).create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, _scaler_body("shop"))
    d = tmp_path_factory.mktemp("dashboard-e2e")
    audit = d / "audit.jsonl"
    args = ["--kubeconfig", str(control_plane.kubeconfig), "--kube-auth", "--audit-log",
            str(audit)]
    for w in slo_world(d, lambda end: [*args, *_outputs(d, end)]):
        yield {**w, "kube": crd, "audit": audit}


def _api(site: dict[str, Any], path: str, token: str | None = None) -> Any:
    r = requests.get(site["url"] + path, timeout=10,
                     headers={"Authorization": f"Bearer {token or site['token']}"})
    assert r.status_code == 200, r.text
    return r.json()


def pct(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f}%"


class Browser:
    """One Chromium page that records console errors and every host it asked."""

    def __init__(self, pw: Any, width: int, base: str) -> None:
        self.browser = pw.chromium.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--disable-gpu"])
        self.page = self.browser.new_page(viewport={"width": width, "height": 900})
        self.base, self.errors, self.hosts = base, [], set()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.hosts.add(urlsplit(r.url).netloc))

    def login(self, token: str) -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=token]", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/")

    def close(self) -> None:
        self.browser.close()


@pytest.fixture
def playwright() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


def _wait_rules(site: dict[str, Any]) -> dict[str, Any]:
    from bench.k8slab import wait_for

    wait_for(lambda: _api(site, "/api/v1/apps/" + SCENARIO)["attainment_ratio"] is not None,
             60, "the recording rules")
    return dict(_api(site, "/api/v1/apps/" + SCENARIO))


@pytest.mark.parametrize("width", [1280, 390])
def test_pages_show_the_api_numbers(site: dict[str, Any], playwright: Any, width: int,
                                    tmp_path: Path) -> None:
    app = _wait_rules(site)
    b = Browser(playwright, width, site["url"])
    try:
        b.login(site["tokens"]["viewer"])
        row = b.page.locator(f'tr[data-app="{SCENARIO}"]')
        assert row.locator("[data-testid=attainment]").inner_text() == pct(app["attainment_ratio"])
        assert row.locator("[data-testid=budget]").inner_text() == \
            pct(app["error_budget_remaining_ratio"], 1)
        b.page.screenshot(path=str(tmp_path / f"overview-{width}.png"), full_page=True)
        b.page.click(f"a[href='/apps/{SCENARIO}']")
        b.page.wait_for_url(f"{site['url']}/apps/{SCENARIO}")
        for slo in app["slos"]:
            card = b.page.locator(f'[data-slo="{slo["name"]}"]')
            assert card.locator("[data-testid=attainment]").inner_text() == \
                pct(slo["attainment_ratio"])
        assert b.page.locator("tr[data-scaler='sale/shop'] [data-testid=mode]").inner_text() \
            in ("Active", "Shadow", "Off")
        assert b.page.locator("button[data-testid^=set-]").count() == 0  # a viewer
        assert b.page.locator("svg.chart polyline").count() >= 3  # demand, replicas, p95
        b.page.screenshot(path=str(tmp_path / f"app-{width}.png"), full_page=True)
        assert (tmp_path / f"app-{width}.png").stat().st_size > 10_000
        assert b.errors == []
        assert b.hosts == {urlsplit(site["url"]).netloc}, b.hosts
    finally:
        b.close()


def test_operator_sets_the_mode_and_the_apiserver_shows_it(site: dict[str, Any],
                                                          playwright: Any,
                                                          tmp_path: Path) -> None:
    _wait_rules(site)
    b = Browser(playwright, 1280, site["url"])
    try:
        b.login(site["tokens"]["operator"])
        b.page.goto(f"{site['url']}/apps/{SCENARIO}")
        with b.page.expect_navigation():
            b.page.click("tr[data-scaler='sale/shop'] button[data-testid=set-Shadow]")
        assert b.page.url == f"{site['url']}/apps/{SCENARIO}", b.page.content()[:2000]
        assert b.page.locator("tr[data-scaler='sale/shop'] [data-testid=mode]").inner_text() \
            == "Shadow"
        b.page.screenshot(path=str(tmp_path / "operator.png"), full_page=True)
        assert b.errors == []
    finally:
        b.close()
    obj = client.CustomObjectsApi(site["kube"]).get_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "shop")
    assert obj["spec"]["mode"] == "Shadow"
    entries = [json.loads(x) for x in site["audit"].read_text().splitlines()]
    last = entries[-1]
    assert last["action"] == "set-mode" and last["target"] == f"predictivescalers/{NS}/shop"
    assert last["actor"].startswith("local:") and last["after"] == {"mode": "Shadow"}
    assert last["before"]["mode"] in ("Active", "Off")
    audit = _api(site, "/api/v1/audit", site["tokens"]["admin"])
    assert audit[0]["id"] == last["id"]


def _service_account_token(kube: client.ApiClient, name: str) -> str:
    core = client.CoreV1Api(kube)
    core.create_namespaced_service_account(NS, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name=name)))
    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    req = core.create_namespaced_service_account_token(name, NS, body)
    return str(req.status.token)


def test_kubernetes_tokens_are_reviewed_by_the_cluster(site: dict[str, Any]) -> None:
    kube = site["kube"]
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_cluster_role({"metadata": {"name": "edgewise-operator"}, "rules": [{
        "apiGroups": [GROUP], "resources": [PLURAL],
        "verbs": ["get", "list", "watch", "patch"]}]})
    rbac.create_cluster_role_binding({
        "metadata": {"name": "edgewise-operator-ops"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "edgewise-operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "ops", "namespace": NS}]})
    allowed = _service_account_token(kube, "ops")
    denied = _service_account_token(kube, "nobody")
    url = site["url"]

    def call(method: str, path: str, token: str, **kw: Any) -> requests.Response:
        return requests.request(method, url + path, timeout=15,
                                headers={"Authorization": f"Bearer {token}"}, **kw)

    who = call("GET", "/api/v1/whoami", allowed)
    assert who.status_code == 200, who.text
    assert who.json() == {"name": f"system:serviceaccount:{NS}:ops", "role": "operator",
                          "source": "kubernetes"}
    assert call("GET", "/api/v1/overview", allowed).status_code == 200
    r = call("PUT", f"/api/v1/scalers/{NS}/shop/mode", allowed, json={"mode": "Off"})
    assert r.status_code == 200, r.text
    assert client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "shop")["spec"]["mode"] == "Off"
    last = json.loads(site["audit"].read_text().splitlines()[-1])
    assert last["actor"] == f"kubernetes:system:serviceaccount:{NS}:ops"
    for path in ("/api/v1/overview", "/api/v1/whoami"):
        r = call("GET", path, denied)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["field"] == "authorization"
    assert call("PUT", f"/api/v1/scalers/{NS}/shop/mode", denied,
                json={"mode": "Active"}).status_code == 403
    assert call("GET", "/api/v1/overview", "not.a.real.jwt").status_code == 401
    # A viewer's local token may read but not write.
    assert call("PUT", f"/api/v1/scalers/{NS}/shop/mode", site["tokens"]["viewer"],
                json={"mode": "Active"}).status_code == 403


def num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


@pytest.mark.parametrize("width", [1280, 390])
def test_q4_placement_slices_and_forecast_show_the_api_numbers(
        site: dict[str, Any], playwright: Any, width: int, tmp_path: Path) -> None:
    _wait_rules(site)
    (summary,) = _api(site, "/api/v1/plans")
    plan = _api(site, f"/api/v1/plans/{summary['name']}")
    seen = [h for h in plan["hours"] if h["actual_mean_rps"] is not None]
    assert seen, "no hour of the plan has actual demand from Prometheus"
    (placement,) = _api(site, "/api/v1/placements")
    slices = _api(site, "/api/v1/slices")
    b = Browser(playwright, width, site["url"])
    try:
        b.login(site["tokens"]["viewer"])
        b.page.goto(site["url"] + "/q4")
        section = b.page.locator(f"section[data-plan='{summary['name']}']")
        rows = section.locator("table[data-testid=plan-hours] tbody tr")
        assert rows.count() == len(plan["hours"])
        i = plan["hours"].index(seen[0])
        assert rows.nth(i).locator("[data-testid=planned]").inner_text() == \
            num(seen[0]["planned_rps"], 1)
        assert rows.nth(i).locator("[data-testid=actual-mean]").inner_text() == \
            num(seen[0]["actual_mean_rps"], 1)
        assert section.locator("[data-testid=short-hours]").inner_text() == \
            str(plan["short_hours"])
        assert section.locator("svg.chart polyline").count() >= 4  # P50, P90, planned, actual
        assert b.page.locator("button[data-testid=acknowledge]").count() == 0  # a viewer
        run = b.page.locator("section[data-run='run']")
        policies = _api(site, "/api/v1/runs")[0]["results"]["policies"]
        assert run.locator("svg circle").count() == len(policies)  # each policy a point
        b.page.screenshot(path=str(tmp_path / f"q4-{width}.png"), full_page=True)
        b.page.goto(site["url"] + "/placement")
        stores = placement["plan"]["stores"]
        assert b.page.locator("table[data-testid=placement] tbody tr").count() == len(stores)
        assert b.page.locator(".map svg circle").count() == len(stores)
        first = stores[0]
        local = [a["service"] for a in first["assignments"] if a["site_kind"] == "edge"]
        assert b.page.locator(f"tr[data-store='{first['name']}'] [data-testid=local]"
                              ).inner_text() == (", ".join(local) or "–")
        b.page.screenshot(path=str(tmp_path / f"placement-{width}.png"), full_page=True)
        b.page.goto(site["url"] + "/slices")
        for peer in slices["peers"]:
            row = b.page.locator(f"tr[data-peer='{peer['slice']}/{peer['site']}/{peer['peer']}']")
            assert row.locator("[data-testid=rx]").inner_text() == str(peer["rx_bytes"])
            assert row.locator("[data-testid=tx]").inner_text() == str(peer["tx_bytes"])
            assert row.locator("[data-testid=state]").inner_text() == peer["state"]
        # handshakes 42 s and 600 s before the file was written (ages count on), and never
        assert {"stale", "no-handshake"} <= {p["state"] for p in slices["peers"]}
        b.page.screenshot(path=str(tmp_path / f"slices-{width}.png"), full_page=True)
        b.page.goto(f"{site['url']}/apps/{SCENARIO}")
        titles = b.page.eval_on_selector_all("svg.chart polyline title",
                                             "els => els.map(e => e.textContent)")
        assert any(t.endswith(" P50") for t in titles) and any(t.endswith(" P90") for t in titles)
        assert b.page.locator("button[data-testid=pause]").count() == 0  # a viewer
        assert b.errors == []
        assert b.hosts == {urlsplit(site["url"]).netloc}, b.hosts
    finally:
        b.close()


def _scaler(site: dict[str, Any]) -> dict[str, Any]:
    return dict(client.CustomObjectsApi(site["kube"]).get_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "shop"))


def _audit(site: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in site["audit"].read_text().splitlines()]


def test_operator_pauses_resumes_and_acknowledges_a_plan(site: dict[str, Any], playwright: Any,
                                                         tmp_path: Path) -> None:
    _wait_rules(site)
    (summary,) = _api(site, "/api/v1/plans")
    b = Browser(playwright, 1280, site["url"])
    try:
        b.login(site["tokens"]["operator"])
        b.page.goto(f"{site['url']}/apps/{SCENARIO}")
        with b.page.expect_navigation():
            b.page.click("tr[data-scaler='sale/shop'] button[data-testid=pause]")
        assert b.page.locator("tr[data-scaler='sale/shop'] [data-testid=paused]").inner_text() \
            == "yes"
        assert _scaler(site)["spec"]["paused"] is True
        last = _audit(site)[-1]
        assert (last["action"], last["before"], last["after"]) == (
            "pause", {"paused": False}, {"paused": True})
        assert last["actor"] == "local:" + _api(site, "/api/v1/whoami",
                                                site["tokens"]["operator"])["name"]
        with b.page.expect_navigation():
            b.page.click("tr[data-scaler='sale/shop'] button[data-testid=resume]")
        assert _scaler(site)["spec"]["paused"] is False
        assert _audit(site)[-1]["action"] == "resume"
        b.page.goto(site["url"] + "/q4")
        with b.page.expect_navigation():
            b.page.click(f"section[data-plan='{summary['name']}'] button[data-testid=acknowledge]")
        assert b.page.url == site["url"] + "/q4"
        shown = b.page.locator(f"section[data-plan='{summary['name']}'] "
                               "[data-testid=acknowledged]").inner_text()
        assert shown.startswith("by local:") and "sale/shop" in shown
        b.page.screenshot(path=str(tmp_path / "acknowledged.png"), full_page=True)
        assert b.errors == []
    finally:
        b.close()
    notes = _scaler(site)["metadata"]["annotations"]
    ack = _api(site, f"/api/v1/plans/{summary['name']}")["plan"]
    assert notes["edgewise.io/acknowledged-plan"] == f"{summary['name']}@{ack['sha256'][:12]}"
    assert notes["edgewise.io/acknowledged-by"] == ack["acknowledged_by"]
    last = _audit(site)[-1]
    assert last["action"] == "acknowledge-plan" and last["target"] == f"predictivescalers/{NS}/shop"
    assert last["after"]["edgewise.io/acknowledged-plan"] == notes["edgewise.io/acknowledged-plan"]


def test_pause_and_acknowledge_refuse_viewers_and_anonymous(site: dict[str, Any]) -> None:
    (summary,) = _api(site, "/api/v1/plans")
    before = _scaler(site)
    calls = [("PUT", f"/api/v1/scalers/{NS}/shop/paused", {"paused": True}),
             ("POST", f"/api/v1/plans/{summary['name']}/acknowledge",
              {"namespace": NS, "name": "shop"})]
    for method, path, body in calls:
        for token, status in ((None, 401), (site["tokens"]["viewer"], 403)):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            r = requests.request(method, site["url"] + path, json=body, headers=headers,
                                 timeout=10)
            assert r.status_code == status, (path, r.text)
            assert r.json()["error"]["field"] == "authorization"
    after = _scaler(site)
    assert after["spec"].get("paused") == before["spec"].get("paused")
    assert after["metadata"].get("annotations") == before["metadata"].get("annotations")

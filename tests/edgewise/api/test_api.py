"""The API on a real SQLite store: SLO math through the store source, auth, bad input, a
Prometheus that is down, the store file's mode, migrations, /metrics."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.k8slab import free_port
from edgewise.api.auth import token_hash
from edgewise.api.prometheus_source import PrometheusSource
from tests.edgewise.api.conftest import NOW, Served


def test_slo_figures_follow_the_math(served: Served) -> None:
    r = served.get("/api/v1/slos")
    assert r.status_code == 200
    by = {s["name"]: s for s in r.json()}
    lat, ava = by["shop-latency"], by["shop-availability"]
    # A day of data: 23 h at 1% slow + 1 h at 10% slow.
    window_bad = (23 * 0.01 + 1 * 0.10) / 24
    assert lat["attainment_ratio"] == pytest.approx(1 - window_bad)
    assert lat["error_budget_remaining_ratio"] == pytest.approx(1 - window_bad / 0.005)
    assert lat["burn_rate_1h"] == pytest.approx(0.10 / 0.005)
    assert lat["alert"] == "page"  # 20x on 1h and 5m
    assert ava["attainment_ratio"] == pytest.approx(0.9995)
    assert ava["burn_rate_1h"] == pytest.approx(0.5) and ava["alert"] == "ok"


def test_overview_and_app(served: Served) -> None:
    ov = served.get("/api/v1/overview").json()
    assert ov["source"] == "store" and ov["stale_since"] is None
    (shop,) = ov["apps"]
    assert shop["attainment_ratio"] == pytest.approx(1 - (23 * 0.01 + 0.1) / 24)
    assert served.get("/api/v1/apps/shop").json()["app"] == "shop"
    series = served.get("/api/v1/apps/shop/series/demand_rps",
                        params={"start": NOW - 3600, "end": NOW, "step": 60}).json()
    assert series["series"][0]["points"][-1] == [NOW, 16.7]


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("/api/v1/apps/nope", {}, 404, "app"),
    ("/api/v1/apps/Bad_App", {}, 422, "app"),
    ("/api/v1/apps/shop/series/demand_rps", {"start": "yesterday"}, 422, "start"),
    ("/api/v1/apps/shop/series/demand_rps", {"start": "2026-01-02", "end": "2026-01-01"},
     422, "end"),
    ("/api/v1/apps/shop/series/demand_rps", {"start": "0", "end": "4000000000"}, 422, "end"),
    ("/api/v1/apps/shop/series/demand_rps", {"start": str(NOW - 30 * 86400), "step": "1"},
     422, "step"),
    ("/api/v1/apps/shop/series/demand_rps", {"step": "-5"}, 422, "step"),
    ("/api/v1/apps/shop/series/nope", {}, 422, "kind"),
    ("/api/v1/overview", {"q": '"}) or vector(1) #'}, 422, "q"),
    ("/api/v1/overview", {"q": "x' OR 1=1 --"}, 422, "q"),
    ("/api/v1/overview", {"sort": "__class__"}, 422, "sort"),
    ("/api/v1/overview", {"mode": "Drop"}, 422, "mode"),
    ("/api/v1/feedback", {"format": "xml"}, 422, "format"),
    ("/api/v1/audit", {"limit": "100000"}, 403, "authorization"),
])
def test_bad_input_is_a_4xx_naming_the_field(served: Served, path: str,
                                             params: dict[str, str], status: int,
                                             field: str) -> None:
    r = served.get(path, params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field, r.text


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("operator", 201)])
def test_feedback_needs_an_operator(served: Served, role: str | None, status: int) -> None:
    headers = {"Authorization": f"Bearer {served.tokens[role]}"} if role else {}
    body = {"namespace": "shop", "scaler": "web", "decision": "2026-11-27T10:00:00Z",
            "verdict": "bad", "note": "scaled too late", "decision_record": {"desired": 4}}
    r = served.client.post("/api/v1/feedback", json=body, headers=headers)
    assert r.status_code == status, r.text
    if status == 201:
        lines = served.get("/api/v1/feedback", params={"format": "jsonl"}).text.splitlines()
        assert [json.loads(x)["note"] for x in lines] == ["scaled too late"]
        audit = served.get("/api/v1/audit", role="admin").json()
        assert audit[0]["actor"] == "local:operator-user" and audit[0]["action"] == "feedback"


def test_unknown_and_forged_tokens_get_401(served: Served) -> None:
    for token in ("ew_" + "x" * 43, "not-a-token", served.tokens["viewer"] + "x"):
        r = served.client.get("/api/v1/slos", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


def test_a_local_token_is_read_from_the_store_once_per_cache_interval(served: Served) -> None:
    auth = served.client.app.state.context.auth  # type: ignore[attr-defined]
    reads = []
    real = served.store.token
    served.store.token = lambda digest: reads.append(digest) or real(digest)  # type: ignore
    for _ in range(5):
        assert served.get("/api/v1/overview").status_code == 200
    assert len(reads) <= 1
    auth._local.clear()
    assert served.get("/api/v1/overview").status_code == 200 and len(reads) <= 2


def test_tokens_are_stored_as_hashes_only(served: Served) -> None:
    raw = served.db.read_bytes()
    for token in served.tokens.values():
        assert token.encode() not in raw
        assert token_hash(token).encode() in raw


def test_store_file_is_0600(served: Served) -> None:
    assert stat.S_IMODE(served.db.stat().st_mode) == 0o600


def test_prometheus_down_is_503_with_the_reason_and_a_stale_banner(
        make_served: Callable[..., Served]) -> None:
    port = free_port()  # nothing listens there
    s = make_served(lambda store: PrometheusSource(f"http://127.0.0.1:{port}", 1.0))
    r = s.get("/api/v1/overview")
    assert r.status_code == 503
    assert r.json()["error"]["field"] == "prometheus"
    assert "ConnectionError" in r.json()["error"]["message"]
    page = s.get("/")
    assert page.status_code == 503 and "data stale since" in page.text
    assert "ConnectionError" in page.text


def test_pages_need_login_and_carry_a_strict_csp(served: Served) -> None:
    r = served.client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = served.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "http://" not in page.text.replace("http://testserver", "")
    assert served.get("/apps/shop").status_code == 200


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_metrics_are_promtool_clean(served: Served) -> None:
    served.get("/api/v1/slos")
    served.get("/api/v1/apps/nope")
    text = served.client.get("/metrics").text
    assert 'route="/api/v1/apps/{app}"' in text and 'code="404"' in text
    r = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                       capture_output=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_migrations_run_twice_and_make_the_schema(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    from edgewise.api.store import migrate

    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    migrate(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"api_tokens", "feedback", "audit", "bench_runs", "samples", "event_plans",
            "placements", "alembic_version"} <= tables


def test_token_create_prints_once_and_stores_the_hash(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from edgewise.api.store import Store
    from edgewise.cli import main

    db = tmp_path / "t.db"
    assert main(["serve", "token", "create", "--role", "operator", "--name", "ann",
                 "--db", str(db)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("ew_") and len(token) > 40
    assert Store(f"sqlite:///{db}").token(token_hash(token)) == ("ann", "operator")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_bad_role_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from edgewise.cli import main

    assert main(["serve", "token", "create", "--role", "root"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--role" in err

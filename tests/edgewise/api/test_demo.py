"""`serve --demo`'s data: a twin run in the store, whose SLO figures (the store source, the same
math as the Prometheus rules) equal the run's results.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edgewise.api.app import create_app
from edgewise.api.auth import Authenticator, Role, create_token
from edgewise.api.context import Context
from edgewise.api.demo import SHOWN, demo_slos, load_demo
from edgewise.api.readings import Readings
from edgewise.api.sources import StoreSource
from edgewise.api.store import Store, migrate

pytestmark = pytest.mark.slow
NOW = 1_800_000_000


def test_demo_store_gives_the_runs_attainment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate(url)
    store = Store(url)
    slos = demo_slos(("flash-sale",))
    load_demo(store, NOW, slos, ("flash-sale",))
    token = create_token(store, "v", Role.VIEWER)
    ctx = Context(store, Authenticator(store), Readings(slos, StoreSource(store), None,
                                                         clock=lambda: NOW))
    c = TestClient(create_app(ctx))
    h = {"Authorization": f"Bearer {token}"}
    (run,) = c.get("/api/v1/runs", headers=h).json()
    twin = run["results"]["policies"][SHOWN]
    got = {s["objective"]: s for s in c.get("/api/v1/slos", headers=h).json()}
    # Three days of data in a 28-day window: the window is the whole run.
    assert got["latency"]["attainment_ratio"] == pytest.approx(twin["latency_attainment"],
                                                              abs=1e-9)
    assert got["availability"]["attainment_ratio"] == pytest.approx(
        twin["availability_attainment"], abs=1e-9)
    for page in ("/", "/apps/flash-sale", "/runs"):
        r = c.get(page, headers=h)
        assert r.status_code == 200, page
    assert "Frontier" in c.get("/runs", headers=h).text
    page = c.get("/apps/flash-sale", headers=h).text
    assert 'data-testid="calendar"' in page and "flash-sale" in page
    for q in ("p50", "p90"):  # the day-ahead forecast over the whole run
        fc = c.get(f"/api/v1/apps/flash-sale/series/forecast_{q}_rps", headers=h,
                   params={"start": NOW - 3 * 86_400, "end": NOW}).json()
        assert len(fc["series"][0]["points"]) >= 400
    (placement,) = c.get("/api/v1/placements", headers=h).json()
    assert placement["plan"]["kind"] == "PlacementPlan"

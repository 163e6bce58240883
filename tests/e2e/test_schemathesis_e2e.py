"""A bounded schemathesis run against the real server (uvicorn on loopback) finds no 5xx, as
each role: generated paths, queries and bodies from the committed docs/openapi.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from bench.k8slab import edgewise, free_port, wait_for
from tests.e2e.slo_world import token

pytestmark = pytest.mark.e2e
REPO = Path(__file__).parents[2]
schema = schemathesis.openapi.from_dict(json.loads((REPO / "docs/openapi.json").read_text()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("schemathesis")
    db = d / "store.db"
    tokens = {r: token(db, r) for r in ("viewer", "operator", "admin")}
    port = free_port()
    proc = edgewise(["serve", "--port", str(port), "--db", str(db), "--slos",
                     str(REPO / "examples/slos.yaml")], d / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, "edgewise serve")
        yield {"url": url, "tokens": tokens}
    finally:
        proc.stop()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx(case: Any, server: dict[str, Any]) -> None:
    for role in ("viewer", "admin"):
        response = case.call(base_url=server["url"],
                             headers={"Authorization": f"Bearer {server['tokens'][role]}"},
                             timeout=10)
        assert response.status_code < 500, (case.method, case.formatted_path,
                                            response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert "error" in response.json(), response.text[:300]

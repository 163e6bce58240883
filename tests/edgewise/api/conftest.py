"""An app on a fresh SQLite store with request counts for one app ("shop") in it, and tokens of
every role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edgewise.api.app import create_app
from edgewise.api.auth import Authenticator, Role, create_token
from edgewise.api.context import Context
from edgewise.api.readings import Readings
from edgewise.api.sources import SloSource, StoreSource, within_name
from edgewise.api.store import Store, migrate
from slo.model import Objective, Slo

NOW = 1_800_000_000
SLOS = (Slo("shop-latency", "shop", Objective.LATENCY, 0.995, 28, threshold_seconds=0.4),
        Slo("shop-availability", "shop", Objective.AVAILABILITY, 0.999, 28))


@dataclass
class Served:
    client: TestClient
    store: Store
    tokens: dict[str, str]
    db: Path

    def get(self, path: str, role: str | None = "viewer", **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.client.get(path, headers=headers, **kw)


def fill(store: Store) -> None:
    """A day of one-minute ticks: 1000 requests each, 1% slow, 0.05% failing; the last hour
    10% slow."""
    ticks = [NOW - 60 * i for i in range(1440)]
    store.put_samples("shop", "requests", [(t, 1000.0) for t in ticks])
    store.put_samples("shop", within_name(SLOS[0]),
                      [(t, 900.0 if NOW - t < 3600 else 990.0) for t in ticks])
    store.put_samples("shop", "errors", [(t, 0.5) for t in ticks])
    store.put_samples("shop", "demand_rps", [(t, 16.7) for t in ticks])


@pytest.fixture
def make_served(tmp_path: Path) -> Callable[..., Served]:
    def make(source: Callable[[Store], SloSource] | None = StoreSource,
             fleet: Any = None) -> Served:
        db = tmp_path / "store.db"
        url = f"sqlite:///{db}"
        migrate(url)
        store = Store(url)
        fill(store)
        tokens = {r.label: create_token(store, f"{r.label}-user", r) for r in Role if r > Role.NONE}
        readings = Readings(SLOS, source(store) if source else None, fleet, clock=lambda: NOW)
        ctx = Context(store, Authenticator(store), readings, tmp_path / "audit.jsonl")
        return Served(TestClient(create_app(ctx), raise_server_exceptions=False), store,
                      tokens, db)
    return make


@pytest.fixture
def served(make_served: Callable[..., Served]) -> Served:
    return make_served()

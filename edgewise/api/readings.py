"""What the API and the pages show, read from the sources once per request: SLO statuses, the
fleet's scalers, an app's series. Remembers when each source last answered, for the
"data stale since" banner."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from edgewise.api.cluster import Fleet
from edgewise.api.errors import ApiError, SourceUnavailableError
from edgewise.api.fleet import AppRow, ScalerView, app_rows, scaler_view
from edgewise.api.sources import Series, SeriesKind, SloSource
from slo.model import Slo
from slo.status import SloStatus, slo_status


@dataclass
class Freshness:
    """When a source last answered, and why it does not now."""

    last_ok: dict[str, float] = field(default_factory=dict)
    failing: dict[str, str] = field(default_factory=dict)

    def ok(self, source: str, now: float) -> None:
        self.last_ok[source] = now
        self.failing.pop(source, None)

    def failed(self, source: str, reason: str) -> None:
        self.failing[source] = reason

    def stale_since(self) -> str | None:
        if not self.failing:
            return None
        seen = [self.last_ok[s] for s in self.failing if s in self.last_ok]
        if not seen:
            return "never (no answer since the server started)"
        return datetime.fromtimestamp(min(seen), UTC).isoformat(timespec="seconds")


class Readings:
    def __init__(self, slos: tuple[Slo, ...], source: SloSource | None, fleet: Fleet | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.slos, self.source, self.fleet, self.clock = slos, source, fleet, clock
        self.freshness = Freshness()

    def _guard(self, name: str, fn: Callable[[], object]) -> object:
        try:
            out = fn()
        except SourceUnavailableError as e:
            self.freshness.failed(name, e.reason)
            raise
        self.freshness.ok(name, self.clock())
        return out

    def statuses(self) -> list[SloStatus]:
        if self.source is None:
            return [slo_status(s, {}) for s in self.slos]
        src = self.source
        ratios = self._guard(src.name, lambda: src.error_ratios(self.slos))
        assert isinstance(ratios, dict)
        return [slo_status(s, ratios.get(s.name, {})) for s in self.slos]

    def scalers(self) -> list[ScalerView]:
        if self.fleet is None:
            return []
        fleet = self.fleet
        objs = self._guard("kubernetes", fleet.scalers)
        assert isinstance(objs, list)
        return [scaler_view(o) for o in objs]

    def rows(self) -> list[AppRow]:
        return app_rows(self.statuses(), self.scalers())

    def apps(self) -> set[str]:
        names = {s.app for s in self.slos}
        if self.fleet is not None:
            names |= {s.app for s in self.scalers()}
        return names

    def app(self, name: str) -> AppRow:
        row = next((r for r in self.rows() if r.app == name), None)
        if row is None:
            raise ApiError(404, f"unknown app {name!r}", "app")
        return row

    def series(self, app: str, kind: SeriesKind, start: float, end: float, step: float
               ) -> list[Series]:
        if app not in self.apps():
            raise ApiError(404, f"unknown app {app!r}", "app")
        if self.source is None:
            return []
        src = self.source
        out = self._guard(src.name, lambda: src.series(app, self.slos, kind, start, end, step))
        assert isinstance(out, list)
        return out

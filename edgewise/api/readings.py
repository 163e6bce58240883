"""What the API and the pages show, read from the sources once per request: SLO statuses, the
fleet's scalers, an app's series. Remembers when each source last answered, for the
"data stale since" banner."""

from __future__ import annotations

import asyncio
import threading
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

MAX_BODIES = 1000


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
                 clock: Callable[[], float] = time.time, cache_seconds: float = 2.0) -> None:
        self.slos, self.source, self.fleet, self.clock = slos, source, fleet, clock
        self.freshness = Freshness()
        # Recording rules change once per evaluation interval (15 s or more in practice): one
        # read of the sources serves every request of the next `cache_seconds`.
        self.cache_seconds = cache_seconds
        self._rows: tuple[float, list[AppRow]] | None = None
        self._lock = threading.Lock()
        self._refresh: asyncio.Future[tuple[float, list[AppRow]]] | None = None
        # JSON bodies built from the current rows (cleared with them): route key -> bytes
        self.bodies: dict[tuple[object, ...], bytes] = {}

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

    def cluster(self) -> Fleet:
        """The fleet, for operator writes: without one (no --kubeconfig) a 404 naming why."""
        if self.fleet is None:
            raise ApiError(404, "this server has no cluster (start it with --kubeconfig)", "name")
        return self.fleet

    def scalers(self) -> list[ScalerView]:
        if self.fleet is None:
            return []
        fleet = self.fleet
        objs = self._guard("kubernetes", fleet.scalers)
        assert isinstance(objs, list)
        return [scaler_view(o) for o in objs]

    def _fresh(self) -> tuple[float, list[AppRow]] | None:
        rows = self._rows
        if rows is not None and 0 <= self.clock() - rows[0] < self.cache_seconds:
            return rows
        return None

    def snapshot(self) -> tuple[float, list[AppRow]]:
        """(when read, rows): one thread reads the sources, the others wait for its answer."""
        with self._lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            self._rows = (self.clock(), app_rows(self.statuses(), self.scalers()))
            self.bodies.clear()
            return self._rows

    async def current(self) -> tuple[float, list[AppRow]]:
        """`snapshot` for the event loop: a fresh one at once; an expired one while a worker
        thread reads the sources again (the next request gets the new one); none, or a failed
        read, waits for the sources (and raises what they raised: 503)."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        old, task = self._rows, self._refresh
        if task is None or task.done():
            task = self._refresh = asyncio.ensure_future(asyncio.to_thread(self.snapshot))
        if old is not None and not self.freshness.failing:
            return old
        return await asyncio.shield(task)

    def rows(self) -> list[AppRow]:
        return self.snapshot()[1]

    def remember(self, key: tuple[object, ...], body: bytes) -> None:
        if len(self.bodies) >= MAX_BODIES:  # many filters within one snapshot: start afresh
            self.bodies.clear()
        self.bodies[key] = body

    def invalidate(self) -> None:
        """After a write (a mode change), the next read goes to the sources."""
        self._rows = None
        self.bodies.clear()

    def apps(self) -> set[str]:
        return {s.app for s in self.slos} | {r.app for r in self.rows()}

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
        row = next((r for r in self.rows() if r.app == app), None)
        scalers = tuple((s.namespace, s.name) for s in row.scalers) if row else ()
        out = self._guard(src.name, lambda: src.series(app, self.slos, kind, start, end, step,
                                                       scalers))
        assert isinstance(out, list)
        return out

"""The controller process: leader election, the period loop over every PredictiveScaler, health.

The scalers come from a watch-backed cache (`controller.informer`), not from a LIST per pass. Each
is reconciled when its `periodSeconds` has passed since its last reconcile, and at once when its
spec changed (a new generation) or its deletion began; the reconciles of one pass run on a small
thread pool (they wait on the apiserver and Prometheus). Only the Lease holder reconciles, and
only from a cache that has been synced. Every failure is logged and counted; none ends the
process, so a restarting apiserver costs a few periods, not a crash loop.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from controller.errors import ConflictError
from controller.informer import uid_of
from controller.leader import LeaderElector, LeaseRecord
from controller.reconcile import Reconciler
from controller.spec import parse_ref, period_seconds_of
from faults import TemporaryError
from scaler.errors import ScalerError

log = logging.getLogger("edgewise.controller")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                               "level": record.levelname.lower(), "logger": record.name,
                               "msg": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("edgewise")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class LeaseStore(Protocol):
    """What the leader loop needs of the Lease adapter (controller.kube.KubeLeases)."""

    def read(self) -> LeaseRecord | None: ...
    def write(self, record: LeaseRecord) -> None: ...


class ScalerSource(Protocol):
    """What the period loop needs of the PredictiveScaler cache (controller.informer.Informer)."""

    def snapshot(self) -> list[Mapping[str, Any]] | None: ...  # None until the first list
    def in_contact(self, within_seconds: float) -> bool: ...
    def run(self, stop: threading.Event) -> None: ...


Version = tuple[int, bool]  # (metadata.generation, deleting)


def _version(obj: Mapping[str, Any]) -> Version:
    meta = obj.get("metadata") or {}
    return int(meta.get("generation", 0) or 0), meta.get("deletionTimestamp") is not None


def due(scalers: list[Mapping[str, Any]], due_at: Mapping[str, float],
        reconciled: Mapping[str, Version], now: float) -> list[Mapping[str, Any]]:
    """The scalers to reconcile now: their period has passed, or their spec or deletion state
    differs from what their last reconcile saw (a spec change or a deletion does not wait for
    the period; a status write does not change the generation)."""
    return [o for o in scalers
            if due_at.get(uid_of(o), 0.0) <= now or reconciled.get(uid_of(o)) != _version(o)]


@dataclass
class Controller:
    reconciler: Reconciler
    scalers: ScalerSource
    elector: LeaderElector
    leases: LeaseStore
    monotonic: Callable[[], float] = time.monotonic
    workers: int = 8
    tick_seconds: float = 0.5
    on_reconciled: Callable[[str, float, float], None] | None = None
    reconcile_seconds: Any = None
    leader_gauge: Any = None
    errors: Any = None
    _due: dict[str, float] = field(default_factory=dict)
    _reconciled: dict[str, Version] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    last_loop: float = 0.0

    def healthy(self) -> bool:
        return self.monotonic() - self.last_loop < 30.0

    def ready(self) -> bool:
        """The scaler cache has synced and its watch is open (or was, within 30 s)."""
        return self.scalers.in_contact(30.0)

    def stop(self) -> None:
        self._stop.set()

    def lead_once(self) -> None:
        try:
            proposal = self.elector.propose(self.leases.read())
            if proposal is not None:
                self.leases.write(proposal)
                self.elector.written(True)
            else:
                self.elector.lost()
        except ConflictError:
            self.elector.lost()
        except ScalerError as e:
            log.warning("lease renewal failed", extra={"fields": {"error": str(e)}})
        if self.leader_gauge is not None:
            self.leader_gauge.set(1 if self.elector.is_leader() else 0)

    def run_leader_loop(self) -> None:
        was = False
        while not self._stop.is_set():
            self.lead_once()
            now = self.elector.is_leader()
            if now != was:
                log.info("leadership changed", extra={"fields": {
                    "leader": now, "identity": self.elector.config.identity}})
                was = now
            self._stop.wait(self.elector.config.retry_period_seconds)

    def run(self) -> None:
        threading.Thread(target=self.scalers.run, args=(self._stop,), name="informer",
                         daemon=True).start()
        threading.Thread(target=self.run_leader_loop, name="leader", daemon=True).start()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="reconcile") as pool:
            while not self._stop.is_set():
                self.last_loop = self.monotonic()
                if self.elector.is_leader():
                    self.pass_once(pool)
                self._stop.wait(self.tick_seconds)

    def pass_once(self, pool: ThreadPoolExecutor) -> None:
        scalers = self.scalers.snapshot()
        if scalers is None:
            return  # not synced yet: an empty cache is not "no scalers"
        uids = {uid_of(o) for o in scalers}
        self.reconciler.forget(uids)
        for gone in set(self._due) - uids:
            self._due.pop(gone, None)
            self._reconciled.pop(gone, None)
        list(pool.map(self._one, due(scalers, self._due, self._reconciled, self.monotonic())))

    def _one(self, obj: Mapping[str, Any]) -> None:
        if not self.elector.is_leader():
            return  # lost the Lease during this pass: act on nothing more
        uid = uid_of(obj)
        period = period_seconds_of(obj)
        start = self.monotonic()
        self._due[uid] = start + period
        self._reconciled[uid] = _version(obj)
        try:
            self.reconciler.reconcile(obj)
        except ScalerError as e:
            if isinstance(e, TemporaryError):  # retry after the error's delay, not a period
                self._due[uid] = start + min(period, e.delay_seconds)
            ref = parse_ref(obj)
            level = logging.INFO if isinstance(e, TemporaryError) else logging.WARNING
            log.log(level, "reconcile failed", extra={"fields": {
                "namespace": ref.namespace, "scaler": ref.name, "error": str(e)}})
            if self.errors is not None:
                self.errors.labels(type(e).__name__).inc()
        except Exception:
            log.exception("reconcile crashed", extra={"fields": {"uid": uid}})
            if self.errors is not None:
                self.errors.labels("Unexpected").inc()
        elapsed = self.monotonic() - start
        if self.reconcile_seconds is not None:
            self.reconcile_seconds.observe(elapsed)
        if self.on_reconciled is not None:
            self.on_reconciled(uid, start, elapsed)


def utc_now() -> datetime:
    """The wall clock as naive UTC, the controller core's time type."""
    from datetime import UTC

    return datetime.now(UTC).replace(tzinfo=None)

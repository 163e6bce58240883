"""The watch-backed cache of PredictiveScalers (an informer, as client-go's reflector + store).

One LIST fills the cache, then a WATCH from the list's resourceVersion applies ADDED, MODIFIED
and DELETED events to a map keyed by uid. A watch that ends (the server's timeout) or drops (an
apiserver restart, a reset connection) is restarted from the last resourceVersion seen; 410 Gone
(that version was compacted away, or the restarted apiserver's watch cache starts later) lists
again. A full re-list every `resync_seconds` is the safety net against a missed event.

`ScalerCache` and `restart_after` are pure; `Informer` runs the loop on its own thread over the
`ScalerApi` port (`controller.kube.KubeCluster`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from controller.errors import ExpiredError
from scaler.errors import ScalerError

log = logging.getLogger("edgewise.informer")


class EventType(Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"  # only metadata.resourceVersion: how far the watch has come


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    obj: Mapping[str, Any]

    @property
    def resource_version(self) -> str:
        return str((self.obj.get("metadata") or {}).get("resourceVersion", ""))


class Restart(Enum):
    """Why the watch was restarted; the label of `edgewise_watch_restarts_total`."""

    TIMEOUT = "Timeout"    # the server ended the stream at timeoutSeconds: watch again
    DROPPED = "Dropped"    # connection lost or an error: watch again from the last version
    EXPIRED = "Expired"    # 410 Gone: the last version is too old to watch from, list again
    RESYNC = "Resync"      # the periodic full list

    @property
    def relists(self) -> bool:
        return self in (Restart.EXPIRED, Restart.RESYNC)


def restart_after(error: ScalerError | None, now: float, resync_at: float) -> Restart:
    """How to go on after a watch stream ended, normally (`error` None) or with an error."""
    if isinstance(error, ExpiredError):
        return Restart.EXPIRED
    if error is not None:
        return Restart.DROPPED
    return Restart.RESYNC if now >= resync_at else Restart.TIMEOUT


def retry_delay_seconds(failures: int) -> float:
    """Back-off between failed attempts: 0.5 s doubling up to 5 s."""
    return min(0.5 * 2.0 ** max(failures - 1, 0), 5.0)


def _older(a: str, b: str) -> bool:
    """Is version `a` older than `b`? Versions are etcd revisions; a non-number never is."""
    return a.isdigit() and b.isdigit() and int(a) < int(b)


@dataclass
class ScalerCache:
    """The objects by uid and the resourceVersion to watch from. `synced` after the first
    list; until then `snapshot` is None and nothing may be reconciled from it."""

    objects: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    resource_version: str = ""
    synced: bool = False

    def replace(self, items: list[Mapping[str, Any]], resource_version: str) -> None:
        self.objects = {uid_of(o): o for o in items}
        self.resource_version = resource_version
        self.synced = True

    def apply(self, event: WatchEvent) -> None:
        version = event.resource_version
        if event.type is EventType.DELETED:
            self.objects.pop(uid_of(event.obj), None)
        elif event.type is not EventType.BOOKMARK:
            uid = uid_of(event.obj)
            held = self.objects.get(uid)
            held_version = str((held or {}).get("metadata", {}).get("resourceVersion", ""))
            if held is None or not _older(version, held_version):
                self.objects[uid] = event.obj
        if version and not _older(version, self.resource_version):
            self.resource_version = version

    def snapshot(self) -> list[Mapping[str, Any]] | None:
        return list(self.objects.values()) if self.synced else None


def uid_of(obj: Mapping[str, Any]) -> str:
    """An object's metadata.uid, the key of the cache and of the period loop's bookkeeping."""
    return str((obj.get("metadata") or {}).get("uid", ""))


class ScalerApi(Protocol):
    """What the informer needs of the Kubernetes adapter (controller.kube.KubeCluster)."""

    def list_scalers(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]: ...

    def watch_scalers(self, namespace: str | None, resource_version: str,
                      timeout_seconds: int) -> Iterator[WatchEvent]: ...


@dataclass
class Informer:
    """Keeps a `ScalerCache` current from its own thread (`run`); `snapshot` is the period
    loop's view, `in_contact` its readiness."""

    api: ScalerApi
    namespace: str | None = None
    resync_seconds: float = 300.0
    monotonic: Callable[[], float] = time.monotonic
    restarts: Any = None  # prometheus Counter labelled by Restart
    cache: ScalerCache = field(default_factory=ScalerCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watching: bool = False
    _contact: float = -math.inf

    def snapshot(self) -> list[Mapping[str, Any]] | None:
        with self._lock:
            return self.cache.snapshot()

    def in_contact(self, within_seconds: float) -> bool:
        """Synced, and a watch is open or the apiserver answered within `within_seconds`."""
        if not self.cache.synced:
            return False
        return self._watching or self.monotonic() - self._contact < within_seconds

    def run(self, stop: threading.Event) -> None:
        failures, relist, resync_at = 0, True, 0.0
        while not stop.is_set():
            if relist:
                try:
                    self._relist()
                except ScalerError as e:
                    failures += 1
                    log.warning("listing PredictiveScalers failed",
                                extra={"fields": {"error": str(e)}})
                    stop.wait(retry_delay_seconds(failures))
                    continue
                failures, resync_at = 0, self.monotonic() + self.resync_seconds
            error: ScalerError | None = None
            try:
                self._watch(stop, resync_at)
            except ScalerError as e:
                error = e
            if stop.is_set():
                return
            restart = restart_after(error, self.monotonic(), resync_at)
            failures = failures + 1 if restart is Restart.DROPPED else 0
            self._count(restart, error)
            relist = restart.relists
            if restart is Restart.DROPPED:
                stop.wait(retry_delay_seconds(failures))

    def _relist(self) -> None:
        items, version = self.api.list_scalers(self.namespace)
        with self._lock:
            self.cache.replace(list(items), version)
        self._contact = self.monotonic()

    def _watch(self, stop: threading.Event, resync_at: float) -> None:
        timeout = max(1, math.ceil(resync_at - self.monotonic()))
        self._watching = True
        try:
            for event in self.api.watch_scalers(self.namespace, self.cache.resource_version,
                                                timeout):
                with self._lock:
                    self.cache.apply(event)
                if stop.is_set():
                    return
        finally:
            self._watching = False
        self._contact = self.monotonic()

    def _count(self, restart: Restart, error: ScalerError | None) -> None:
        fields: dict[str, Any] = {"reason": restart.value,
                                  "action": "relist" if restart.relists else "rewatch",
                                  "resourceVersion": self.cache.resource_version}
        if error is not None:
            fields["error"] = str(error)
        log.info("watch restarted", extra={"fields": fields})
        if self.restarts is not None:
            self.restarts.labels(restart.value).inc()

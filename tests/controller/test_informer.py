"""The PredictiveScaler cache: events applied by uid, stale versions ignored, 410 -> list again,
ERROR events through the real `kubernetes` watch client, the loop over a fake API, and which
scalers the period loop picks from the cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from controller.errors import ApiTemporaryError as TemporaryError
from controller.errors import ExpiredError
from controller.informer import (
    EventType,
    Informer,
    Restart,
    ScalerCache,
    WatchEvent,
    restart_after,
    retry_delay_seconds,
)
from controller.kube import watch_events
from controller.loop import due
from scaler.errors import ScalerError


def obj(uid: str, version: int, generation: int = 1, deleting: bool = False,
        period: float = 15) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"s-{uid}", "namespace": "ns", "uid": uid,
                            "resourceVersion": str(version), "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-27T10:00:00Z"
    return {"metadata": meta, "spec": {"periodSeconds": period}}


def ev(kind: str, o: dict[str, Any]) -> WatchEvent:
    return WatchEvent(EventType(kind), o)


def synced(*objs: dict[str, Any], version: str = "10") -> ScalerCache:
    c = ScalerCache()
    c.replace(list(objs), version)
    return c


def versions(c: ScalerCache) -> dict[str, str]:
    return {u: o["metadata"]["resourceVersion"] for u, o in c.objects.items()}


def test_an_unsynced_cache_has_no_snapshot_and_an_empty_synced_one_has() -> None:
    assert ScalerCache().snapshot() is None
    assert synced().snapshot() == []


@pytest.mark.parametrize(("events", "want", "want_version"), [
    ([("ADDED", obj("b", 11))], {"a": "5", "b": "11"}, "11"),
    ([("MODIFIED", obj("a", 12))], {"a": "12"}, "12"),
    ([("DELETED", obj("a", 13))], {}, "13"),
    ([("MODIFIED", obj("a", 4))], {"a": "5"}, "10"),                  # stale: ignored
    ([("ADDED", obj("a", 5))], {"a": "5"}, "10"),                     # replayed ADDED
    ([("MODIFIED", obj("a", 12)), ("MODIFIED", obj("a", 11))], {"a": "12"}, "12"),
    ([("BOOKMARK", {"metadata": {"resourceVersion": "40"}})], {"a": "5"}, "40"),
    ([("DELETED", obj("zz", 14))], {"a": "5"}, "14"),                  # unknown uid
])
def test_events_apply_by_uid(events: list[tuple[str, dict[str, Any]]], want: dict[str, str],
                             want_version: str) -> None:
    c = synced(obj("a", 5))
    for kind, o in events:
        c.apply(ev(kind, o))
    assert versions(c) == want
    assert c.resource_version == want_version


def test_deletion_start_is_a_modified_event_that_keeps_the_object() -> None:
    c = synced(obj("a", 5))
    c.apply(ev("MODIFIED", obj("a", 6, generation=2, deleting=True)))
    [o] = c.snapshot() or []
    assert o["metadata"]["deletionTimestamp"]


def test_a_list_replaces_everything_including_missed_deletions() -> None:
    c = synced(obj("a", 5), obj("b", 6))
    c.replace([obj("b", 20)], "21")
    assert versions(c) == {"b": "20"} and c.resource_version == "21"


@pytest.mark.parametrize(("error", "now", "restart"), [
    (None, 10.0, Restart.TIMEOUT),                               # server timeout: watch again
    (None, 300.0, Restart.RESYNC),                               # resync due: list again
    (ExpiredError("410 Gone"), 10.0, Restart.EXPIRED),           # too old: list again
    (TemporaryError("connection refused"), 10.0, Restart.DROPPED),
    (TemporaryError("HTTP 500"), 300.0, Restart.DROPPED),
])
def test_restart_decision(error: ScalerError | None, now: float, restart: Restart) -> None:
    got = restart_after(error, now, 300.0)
    assert got is restart
    assert got.relists == (restart in (Restart.EXPIRED, Restart.RESYNC))


def test_retry_delay_backs_off_to_a_cap() -> None:
    assert [retry_delay_seconds(n) for n in (1, 2, 3, 4, 5, 9)] == [0.5, 1, 2, 4, 5, 5]


class FakeResponse:
    """The urllib3 response the kubernetes client reads a watch from: one JSON event a line."""

    status = 200

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.body = "".join(json.dumps(x) + "\n" for x in lines).encode()

    def stream(self, amt: Any = None, decode_content: Any = None) -> Iterator[bytes]:
        yield self.body

    def close(self) -> None: ...
    def release_conn(self) -> None: ...


def lister(lines: list[dict[str, Any]]) -> Any:
    def list_fn(*args: Any, **kwargs: Any) -> FakeResponse:
        assert kwargs["watch"] and kwargs["allow_watch_bookmarks"]
        return FakeResponse(lines)
    list_fn.__doc__ = ":rtype: object"
    return list_fn


def error_event(code: int) -> dict[str, Any]:
    return {"type": "ERROR", "object": {"kind": "Status", "code": code, "reason": "Expired",
                                        "message": "too old resource version: 5 (40)"}}


@pytest.mark.parametrize(("code", "error", "restart"), [
    (410, ExpiredError, Restart.EXPIRED),
    (500, TemporaryError, Restart.DROPPED),
])
def test_error_events_raise_typed_errors_after_the_good_events(
        code: int, error: type[ScalerError], restart: Restart) -> None:
    lines = [{"type": "MODIFIED", "object": obj("a", 7)}, error_event(code)]
    c = synced(obj("a", 5))
    with pytest.raises(error) as e:
        for event in watch_events(lister(lines), "g", "v", "p", resource_version="5",
                                  timeout_seconds=30):
            c.apply(event)
    assert versions(c) == {"a": "7"}
    assert restart_after(e.value, 0.0, 300.0) is restart


class FakeApi:
    """The informer's port: scripted lists and watches (each a list of events, then an error
    or a clean end)."""

    def __init__(self, lists: list[tuple[list[dict[str, Any]], str]],
                 watches: list[tuple[list[WatchEvent], ScalerError | None]],
                 stop: threading.Event) -> None:
        self.lists, self.watches, self.stop = lists, watches, stop
        self.calls: list[str] = []

    def list_scalers(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        self.calls.append("list")
        return self.lists.pop(0)

    def watch_scalers(self, namespace: str | None, resource_version: str,
                      timeout_seconds: int) -> Iterator[WatchEvent]:
        self.calls.append(f"watch@{resource_version}")
        if not self.watches:
            self.stop.set()
            return
        events, error = self.watches.pop(0)
        yield from events
        if error is not None:
            raise error


class Restarts:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def labels(self, reason: str) -> Restarts:
        self.reason = reason
        return self

    def inc(self) -> None:
        self.counts[self.reason] = self.counts.get(self.reason, 0) + 1


def test_the_loop_rewatches_from_the_last_version_and_relists_on_410() -> None:
    stop = threading.Event()
    api = FakeApi(
        lists=[([obj("a", 5)], "10"), ([obj("a", 30), obj("c", 31)], "32")],
        watches=[([ev("MODIFIED", obj("a", 11))], TemporaryError("connection reset")),
                 ([ev("ADDED", obj("b", 12))], None),
                 ([], ExpiredError("410 Gone"))],
        stop=stop)
    restarts = Restarts()
    informer = Informer(api, "ns", restarts=restarts)
    assert informer.snapshot() is None and not informer.in_contact(30.0)
    informer.run(stop)
    assert api.calls == ["list", "watch@10", "watch@11", "watch@12", "list", "watch@32"]
    assert restarts.counts == {"Dropped": 1, "Timeout": 1, "Expired": 1}
    assert versions(informer.cache) == {"a": "30", "c": "31"}
    assert informer.in_contact(30.0)


@pytest.mark.parametrize(("reconciled", "due_at", "want"), [
    ({}, {}, ["a", "b"]),                                            # first sight
    ({"a": (1, False), "b": (1, False)}, {"a": 50.0, "b": 200.0}, ["a"]),  # a's period passed
    ({"a": (1, False), "b": (0, False)}, {"a": 200.0, "b": 200.0}, ["b"]),  # b's spec changed
    ({"a": (1, False), "b": (1, False)}, {"a": 200.0, "b": 200.0}, []),
])
def test_due_picks_passed_periods_and_changed_specs(reconciled: dict[str, tuple[int, bool]],
                                                    due_at: dict[str, float],
                                                    want: list[str]) -> None:
    scalers = [obj("a", 5), obj("b", 6)]
    assert [o["metadata"]["uid"] for o in due(scalers, due_at, reconciled, 100.0)] == want


def test_a_deletion_is_due_at_once() -> None:
    deleting = obj("a", 9, generation=1, deleting=True)
    assert due([deleting], {"a": 200.0}, {"a": (1, False)}, 100.0) == [deleting]

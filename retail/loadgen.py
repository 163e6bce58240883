"""The open-loop load generator's HTTP sender (a thin adapter over `arrivals` and `latency`).

Request i is due at `start + arrivals[i]`; a pool of sender threads takes requests in order,
sleeps until each one is due and sends it to the least-outstanding endpoint. Its latency is
measured from the time it was due, not from when a thread got round to it, so a slow server that
keeps every thread busy shows up as latency (no coordinated omission: a closed-loop tool such as
`wrk` would send less instead). How late the sends themselves were is reported, so a generator
that could not keep up is visible rather than hidden.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from retail.balancer import LeastOutstanding
from retail.errors import EndpointsUnavailableError
from retail.latency import LogHistogram, WindowedLatency


@dataclass(frozen=True)
class LoadPlan:
    arrivals_seconds: np.ndarray  # intended send times from the start, increasing
    path: str = "/buy"
    senders: int = 200
    timeout_seconds: float = 30.0


@dataclass
class LoadResult:
    latency: WindowedLatency
    sent: int = 0
    failed: int = 0
    send_lateness: LogHistogram = field(default_factory=LogHistogram)
    wall_start: float = 0.0  # epoch seconds of the schedule's 0
    latency_sum_seconds: float = 0.0  # of the answered requests

    @property
    def latency_mean_seconds(self) -> float:
        answered = self.sent - self.failed
        return self.latency_sum_seconds / answered if answered else float("nan")


class _Sender:
    def __init__(self, plan: LoadPlan, balancer: LeastOutstanding, result: LoadResult,
                 start: float) -> None:
        self.plan, self.balancer, self.result, self.start = plan, balancer, result, start
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            i = self._next
            if i >= len(self.plan.arrivals_seconds):
                return None
            self._next += 1
            return i

    def run(self) -> None:
        pool: dict[str, http.client.HTTPConnection] = {}
        while (i := self.take()) is not None:
            due = self.start + float(self.plan.arrivals_seconds[i])
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            ok = self._send(pool)
            done = time.monotonic()
            with self._lock:
                self.result.sent += 1
                self.result.failed += 0 if ok else 1
                self.result.send_lateness.record(max(sent - due, 0.0))
                self.result.latency.record(due - self.start, done - due, ok)
                self.result.latency_sum_seconds += (done - due) if ok else 0.0
        for conn in pool.values():
            conn.close()

    def _send(self, pool: dict[str, http.client.HTTPConnection]) -> bool:
        try:
            endpoint = self.balancer.acquire()
        except EndpointsUnavailableError:
            return False
        try:
            if endpoint not in pool:
                host, port = endpoint.rsplit(":", 1)
                pool[endpoint] = http.client.HTTPConnection(host, int(port),
                                                            timeout=self.plan.timeout_seconds)
            conn = pool[endpoint]
            conn.request("GET", self.plan.path)
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, http.client.HTTPException):
            broken = pool.pop(endpoint, None)
            if broken is not None:
                broken.close()
            return False
        finally:
            self.balancer.release(endpoint)


def play(plan: LoadPlan, balancer: LeastOutstanding, window_seconds: float = 60.0,
         lead_seconds: float = 0.5) -> LoadResult:
    """Send every request of `plan` (blocking until the last is answered or timed out)."""
    result = LoadResult(WindowedLatency(window_seconds))
    start = time.monotonic() + lead_seconds
    result.wall_start = time.time() + lead_seconds
    sender = _Sender(plan, balancer, result, start)
    threads = [threading.Thread(target=sender.run, daemon=True, name=f"sender-{k}")
               for k in range(plan.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result

"""Least-outstanding-requests load balancing across endpoints, pure (thread-safe).

Each request goes to the endpoint with the fewest requests in flight from this client (ties
broken by an injected RNG), as a service mesh's least-request balancer does. With one worker per
replica this keeps requests from waiting at a busy replica while another is idle, so the
replicas behave close to one shared queue: what the twin's M/M/c assumes. (kube-proxy's random
choice would make them c independent queues, which wait longer at the same load.)
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable

from retail.errors import EndpointsUnavailableError


class LeastOutstanding:
    def __init__(self, rng: random.Random, endpoints: Iterable[str] = ()) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self.set_endpoints(endpoints)

    def set_endpoints(self, endpoints: Iterable[str]) -> None:
        """Replace the endpoint set; requests in flight to a removed endpoint finish there."""
        with self._lock:
            keep = set(endpoints)
            self._in_flight = {e: self._in_flight.get(e, 0) for e in sorted(keep)}

    def endpoints(self) -> list[str]:
        with self._lock:
            return list(self._in_flight)

    def acquire(self) -> str:
        """The endpoint for the next request (counted in flight until `release`)."""
        with self._lock:
            if not self._in_flight:
                raise EndpointsUnavailableError("no ready endpoint to send to", 0.2)
            fewest = min(self._in_flight.values())
            choice = self._rng.choice([e for e, n in self._in_flight.items() if n == fewest])
            self._in_flight[choice] += 1
            return choice

    def release(self, endpoint: str) -> None:
        with self._lock:
            if endpoint in self._in_flight and self._in_flight[endpoint] > 0:
                self._in_flight[endpoint] -= 1

    def in_flight(self) -> dict[str, int]:
        with self._lock:
            return dict(self._in_flight)

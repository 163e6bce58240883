"""One service of the retail app: an HTTP server that burns CPU per request and calls the next
service, with Prometheus histograms (the adapter the twin's service graph is measured against).

Per request (any path but the probes and /metrics): wait for one of `concurrency` workers,
burn a CPU time drawn from an exponential distribution with mean `cpu_ms` (or exactly
`cpu_ms`) measured on the thread's own CPU clock, release the worker, then call each of
`calls` in turn (the least-outstanding ready endpoint of that Service) and answer 200, or 502
when a call failed. A replica is thus a `concurrency`-server queue on its CPU work, as the twin
models it (M/M/c); the downstream calls hold no worker.

`/readyz` is 503 until `startup_seconds` have passed since the process started (the start-up
the twin delays new replicas by), then 200; `/healthz` is always 200; `/metrics`:

- `edgewise_shop_work_duration_seconds{service}`: queueing for a worker + the CPU burn (the
  twin's per-service response time),
- `edgewise_shop_service_duration_seconds{service}`: the CPU burn alone, wall clock (the
  service time: longer than the CPU time when the node's cores are contended),
- `edgewise_shop_request_duration_seconds{service}`: the whole request, downstream calls
  included (at the frontend: the end-to-end time the server sees),
- `edgewise_shop_requests_total{service,code}`, and the process collector's
  `process_cpu_seconds_total` (the replica's CPU per request, from which capacity is measured).

SIGTERM drains (`drain_and_stop`): `/readyz` turns 503 and every answer closes its connection;
the replica keeps answering for `drain_seconds` (its callers' endpoint watchers, which poll every
0.5-1 s, stop sending to a terminating Pod), then stops accepting, waits for the requests in
flight to finish and exits. A scale-down thus loses no request (the twin removes a replica's
capacity and has no errors there); the Pod's terminationGracePeriodSeconds must allow it.
"""

from __future__ import annotations

import http.client
import random
import signal
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from retail.balancer import LeastOutstanding
from retail.endpoints import ApiAccess, EndpointWatcher
from retail.errors import EndpointsUnavailableError, RetailError

WORK_DURATION = "edgewise_shop_work_duration_seconds"
SERVICE_DURATION = "edgewise_shop_service_duration_seconds"
REQUEST_DURATION = "edgewise_shop_request_duration_seconds"
REQUESTS = "edgewise_shop_requests_total"
# 1 ms to about 30 s, 20% apart: histogram_quantile reads within about 10% of the truth
BUCKETS = tuple(round(0.001 * 1.2**k, 6) for k in range(57))
CALL_TIMEOUT_SECONDS = 30.0
DRAIN_SECONDS = 2.0  # after SIGTERM: twice the slowest caller's endpoint poll
MAX_CPU_FACTOR = 20.0  # an exponential draw is capped at 20x its mean


class CpuDistribution(StrEnum):
    EXPONENTIAL = "exponential"
    FIXED = "fixed"


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    cpu_ms: float
    startup_seconds: float
    calls: tuple[str, ...] = ()
    concurrency: int = 1
    distribution: CpuDistribution = CpuDistribution.EXPONENTIAL
    port: int = 8080
    host: str = "0.0.0.0"  # inside the Pod's network namespace
    namespace: str = "default"
    seed: int | None = None
    drain_seconds: float = DRAIN_SECONDS

    def __post_init__(self) -> None:
        if not 0 <= self.cpu_ms <= 10_000:
            raise RetailError(f"service {self.name!r}: cpu_ms must be in [0, 10000]")
        if not 0 <= self.startup_seconds <= 3600:
            raise RetailError(f"service {self.name!r}: startup_seconds must be in [0, 3600]")
        if not 1 <= self.concurrency <= 64:
            raise RetailError(f"service {self.name!r}: concurrency must be in [1, 64]")
        if not 0 <= self.drain_seconds <= 600:
            raise RetailError(f"service {self.name!r}: drain_seconds must be in [0, 600]")


def burn_cpu(seconds: float) -> None:
    """Spin until this thread has used `seconds` of CPU time (time spent descheduled or
    waiting for the interpreter lock does not count)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        labels = ["service"]
        self.work = Histogram(WORK_DURATION, "Queueing for a worker plus the CPU work",
                              labels, buckets=BUCKETS, registry=self.registry).labels(service)
        self.service_time = Histogram(SERVICE_DURATION, "The CPU work alone, wall clock",
                                      labels, buckets=BUCKETS,
                                      registry=self.registry).labels(service)
        self.request = Histogram(REQUEST_DURATION, "The whole request, downstream calls "
                                 "included", labels, buckets=BUCKETS,
                                 registry=self.registry).labels(service)
        self._requests = Counter(REQUESTS, "Requests answered", ["service", "code"],
                                 registry=self.registry)
        self.service = service

    def answered(self, code: int) -> None:
        self._requests.labels(self.service, str(code)).inc()


class InFlight:
    """Requests being answered, and whether the replica is draining (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0
        self.draining = False

    def __enter__(self) -> InFlight:
        with self._cond:
            self._count += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            if self._count == 0:
                self._cond.notify_all()

    @property
    def count(self) -> int:
        with self._cond:
            return self._count

    def drain(self) -> None:
        with self._cond:
            self.draining = True

    def wait_idle(self, timeout_seconds: float) -> bool:
        """Until no request is in flight (True) or the timeout passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout_seconds)


class Downstream:
    """Calls to one Service: least-outstanding choice, one keep-alive connection per thread
    and endpoint, one retry on another endpoint when a connection fails."""

    def __init__(self, service: str, balancer: LeastOutstanding) -> None:
        self.service, self.balancer = service, balancer
        self._local = threading.local()

    def _connection(self, endpoint: str) -> http.client.HTTPConnection:
        pool: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        if endpoint not in pool:
            host, port = endpoint.rsplit(":", 1)
            pool[endpoint] = http.client.HTTPConnection(host, int(port),
                                                        timeout=CALL_TIMEOUT_SECONDS)
        return pool[endpoint]

    def _drop(self, endpoint: str) -> None:
        pool: dict[str, http.client.HTTPConnection] = self._local.__dict__.get("pool", {})
        conn = pool.pop(endpoint, None)
        if conn is not None:
            conn.close()

    def call(self, path: str) -> int:
        for _ in range(2):
            try:
                endpoint = self.balancer.acquire()
            except EndpointsUnavailableError:
                return 503
            try:
                conn = self._connection(endpoint)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                return resp.status
            except (OSError, http.client.HTTPException):
                self._drop(endpoint)
            finally:
                self.balancer.release(endpoint)
        return 502


class Service:
    def __init__(self, config: ServiceConfig, calls: dict[str, Downstream]) -> None:
        self.config = config
        self.calls = calls
        self.metrics = Metrics(config.name)
        self.started = time.monotonic()
        self.workers = threading.Semaphore(config.concurrency)
        self.in_flight = InFlight()
        self._rng = random.Random(config.seed)
        self._rng_lock = threading.Lock()

    def ready(self) -> bool:
        if self.in_flight.draining:
            return False
        return time.monotonic() - self.started >= self.config.startup_seconds

    def cpu_seconds(self) -> float:
        mean = self.config.cpu_ms / 1000.0
        if self.config.distribution is CpuDistribution.FIXED or mean == 0:
            return mean
        with self._rng_lock:
            return min(self._rng.expovariate(1.0 / mean), MAX_CPU_FACTOR * mean)

    def handle(self, path: str) -> int:
        with self.in_flight:
            return self._handle(path)

    def _handle(self, path: str) -> int:
        t0 = time.perf_counter()
        with self.workers:
            t1 = time.perf_counter()
            burn_cpu(self.cpu_seconds())
            self.metrics.service_time.observe(time.perf_counter() - t1)
        self.metrics.work.observe(time.perf_counter() - t0)
        code = 200
        for downstream in self.calls.values():
            status = downstream.call(path)
            if status != 200:
                code = 502
                break
        self.metrics.request.observe(time.perf_counter() - t0)
        self.metrics.answered(code)
        return code


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: callers reuse their connections

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                self._reply(200, generate_latest(service.metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200, b"ok\n")
            elif self.path == "/readyz":
                ok = service.ready()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"starting\n")
            else:
                code = service.handle(self.path)
                self._reply(code, b"ok\n" if code == 200 else b"downstream failed\n")

        def _reply(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if service.in_flight.draining:  # the caller reconnects, to another replica
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # one line per request would cost more CPU than the work

    return Handler


def build_server(config: ServiceConfig, balancers: dict[str, LeastOutstanding]
                 ) -> tuple[ThreadingHTTPServer, Service]:
    """The HTTP server of one replica; `balancers`: one per callee, in call order."""
    service = Service(config, {n: Downstream(n, b) for n, b in balancers.items()})
    server = ThreadingHTTPServer((config.host, config.port), handler_for(service))
    server.daemon_threads = True
    return server, service


def drain_and_stop(server: ThreadingHTTPServer, service: Service) -> bool:
    """Fail readiness and close connections, keep answering for `drain_seconds`, stop
    accepting, then wait for the requests in flight (at most a call timeout). True when none
    was left unfinished."""
    service.in_flight.drain()
    time.sleep(service.config.drain_seconds)
    server.shutdown()  # serve_forever returns; connections already accepted go on
    return service.in_flight.wait_idle(CALL_TIMEOUT_SECONDS)


def serve(config: ServiceConfig, static: dict[str, list[str]] | None = None,
          api: ApiAccess | None = None) -> None:
    """Run the service until SIGTERM/SIGINT, then drain (`drain_and_stop`). A callee's
    endpoints are `static[callee]` if given, else its Service's ready endpoints read from `api`
    (default: in-cluster)."""
    balancers: dict[str, LeastOutstanding] = {}
    watchers = []
    for name in config.calls:
        balancer = LeastOutstanding(random.Random(config.seed), (static or {}).get(name, ()))
        if static is None or name not in static:
            access = api or ApiAccess.in_cluster()
            watchers.append(EndpointWatcher(access, config.namespace, name, balancer).start())
        balancers[name] = balancer
    server, service = build_server(config, balancers)

    stopping: list[threading.Thread] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping:  # a second signal changes nothing: the drain is under way
            stopping.append(threading.Thread(target=drain_and_stop, args=(server, service),
                                             daemon=True))
            stopping[0].start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
        for t in stopping:  # the requests in flight finish before the process exits
            t.join()
    finally:
        for w in watchers:
            w.stop()
        server.server_close()

"""The app's services on loopback (real HTTP servers in threads), fixed endpoints."""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from retail.app import CpuDistribution, ServiceConfig, build_server, burn_cpu, drain_and_stop
from retail.arrivals import Process, arrival_times, constant
from retail.balancer import LeastOutstanding
from retail.endpoints import ready_addresses
from retail.errors import RetailError
from retail.loadgen import LoadPlan, play


def _start(config: ServiceConfig, calls: dict[str, list[str]]) -> ThreadingHTTPServer:
    balancers = {n: LeastOutstanding(random.Random(0), eps) for n, eps in calls.items()}
    server, _ = build_server(config, balancers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _addr(server: ThreadingHTTPServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


STARTUP = 3.0  # long enough that a loaded machine still asks before it has passed


@pytest.fixture
def chain() -> Iterator[dict[str, ThreadingHTTPServer]]:
    pay = _start(ServiceConfig("payment", 1.0, 0.0, host="127.0.0.1", port=0, seed=1), {})
    front = _start(ServiceConfig("frontend", 1.0, STARTUP, calls=("payment",), host="127.0.0.1",
                                 port=0, distribution=CpuDistribution.FIXED), {
        "payment": [_addr(pay)]})
    yield {"payment": pay, "frontend": front}
    for s in (front, pay):
        s.shutdown()
        s.server_close()


def _get(server: ThreadingHTTPServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{_addr(server)}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _samples(server: ThreadingHTTPServer) -> dict[str, float]:
    text = _get(server, "/metrics")[1]
    return {s.name + str(sorted(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_ready_after_the_startup_time_and_requests_reach_the_callee(
        chain: dict[str, ThreadingHTTPServer]) -> None:
    front = chain["frontend"]
    t0 = time.monotonic()
    assert _get(front, "/readyz")[0] == 503
    assert _get(front, "/healthz")[0] == 200
    while _get(front, "/readyz")[0] != 200:
        assert time.monotonic() - t0 < STARTUP + 10, "never ready"
        time.sleep(0.1)
    assert _get(front, "/buy") == (200, "ok\n")
    pay = _samples(chain["payment"])
    assert pay["edgewise_shop_work_duration_seconds_count[('service', 'payment')]"] == 1
    # the service time alone (the CPU burn's wall time) is at most the work time
    service = pay["edgewise_shop_service_duration_seconds_sum[('service', 'payment')]"]
    assert 0 < service <= pay["edgewise_shop_work_duration_seconds_sum[('service', 'payment')]"]
    front_m = _samples(front)
    assert front_m["edgewise_shop_requests_total[('code', '200'), ('service', 'frontend')]"] == 1
    assert "process_cpu_seconds_total[]" in front_m


def test_a_callee_that_is_down_makes_a_502() -> None:
    front = _start(ServiceConfig("frontend", 0.0, 0.0, calls=("payment",), host="127.0.0.1",
                                 port=0), {"payment": ["127.0.0.1:9"]})
    try:
        assert _get(front, "/buy")[0] == 502
        nobody = _start(ServiceConfig("f2", 0.0, 0.0, calls=("x",), host="127.0.0.1", port=0),
                        {"x": []})
        assert _get(nobody, "/buy")[0] == 502
        nobody.shutdown()
        nobody.server_close()
    finally:
        front.shutdown()
        front.server_close()


def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sigterm_drains_answers_what_arrives_and_finishes_what_is_in_flight() -> None:
    config = ServiceConfig("checkout", 200.0, 0.0, host="127.0.0.1", port=0,
                           distribution=CpuDistribution.FIXED, drain_seconds=0.5)
    server, service = build_server(config, {})
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        first: list[int] = []
        in_flight = threading.Thread(target=lambda: first.append(_get(server, "/buy")[0]))
        in_flight.start()
        _until(lambda: service.in_flight.count == 1)
        drained: list[bool] = []
        stopper = threading.Thread(target=lambda: drained.append(drain_and_stop(server,
                                                                                service)))
        stopper.start()
        _until(lambda: service.in_flight.draining)
        assert _get(server, "/readyz")[0] == 503  # the endpoint leaves the callers' sets
        # a request a caller sent before it saw that is still answered, and its connection
        # closed so the caller's next request goes elsewhere
        with urllib.request.urlopen(f"http://{_addr(server)}/buy", timeout=5) as r:
            assert r.status == 200 and r.headers["Connection"] == "close"
        stopper.join(5)
        in_flight.join(5)
        assert first == [200] and drained == [True] and service.in_flight.count == 0
        serving.join(1)
        assert not serving.is_alive()  # no longer accepting
    finally:
        server.server_close()


def test_burn_uses_the_threads_cpu_time() -> None:
    t0, c0 = time.perf_counter(), time.thread_time()
    burn_cpu(0.02)
    assert time.thread_time() - c0 >= 0.02
    assert time.perf_counter() - t0 >= 0.02


def test_open_loop_load_counts_every_request_from_its_intended_time(
        chain: dict[str, ThreadingHTTPServer]) -> None:
    times = arrival_times(constant(50, 2.0), Process.CONSTANT, np.random.default_rng(0))
    b = LeastOutstanding(random.Random(0), [_addr(chain["frontend"])])
    time.sleep(0.5)
    result = play(LoadPlan(times, senders=8), b, window_seconds=1.0, lead_seconds=0.1)
    assert result.sent == 100 and result.failed == 0
    assert sorted(result.latency.histograms) == [0, 1]
    assert result.latency.total().count == 100
    assert 0 < result.latency_mean_seconds < 1.0


def test_config_bounds() -> None:
    with pytest.raises(RetailError, match="cpu_ms"):
        ServiceConfig("x", -1.0, 0.0)
    with pytest.raises(RetailError, match="concurrency"):
        ServiceConfig("x", 1.0, 0.0, concurrency=0)
    with pytest.raises(RetailError, match="drain_seconds"):
        ServiceConfig("x", 1.0, 0.0, drain_seconds=-1.0)


def test_ready_addresses_of_an_endpoints_object() -> None:
    doc = {"subsets": [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}],
                        "notReadyAddresses": [{"ip": "10.0.0.9"}],
                        "ports": [{"name": "http", "port": 8080}]}]}
    assert ready_addresses(doc, "http") == ["10.0.0.1:8080", "10.0.0.2:8080"]
    assert ready_addresses({}, "http") == []

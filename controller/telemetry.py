"""The controller's own metrics (prefix `edgewise_`) and its /metrics, /healthz, /readyz server.

The only module of the controller that imports `prometheus_client`. Labels are bounded: the
scaler's namespace and name, the fallback reason, the decision reason, the watch restart reason
(all Enums).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from controller import metric_names as names
from controller.decision import DayAhead, Decision
from controller.spec import ScalerRef

QUANTILES = ("p50", "p90")  # the label `forecast` (`quantile` is a summary's)


class Telemetry:
    """Metrics of one controller process; also the reconcile loop's `DecisionSink`."""

    def __init__(self, decision_log: Callable[[str], None] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        labels = ["namespace", "scaler"]
        self.reconcile_seconds = Histogram(
            names.RECONCILE_DURATION, "Time to reconcile one PredictiveScaler",
            registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.reconcile_errors = Counter(
            names.RECONCILE_ERRORS, "Reconciles that raised, by error class",
            ["error"], registry=r)
        self.decisions = Counter(names.DECISIONS, "Decisions made, by reason",
                                 [*labels, "reason"], registry=r)
        self.desired = Gauge(names.DESIRED_REPLICAS, "Replicas the last decision wants",
                             [*labels, "workload"], registry=r)
        self.fallback_active = Gauge(names.FALLBACK_ACTIVE,
                                     "1 while the reactive rule decides instead of the policy",
                                     labels, registry=r)
        self.fallbacks = Counter(names.FALLBACK_PERIODS,
                                 "Periods decided by the reactive fallback, by reason",
                                 [*labels, "reason"], registry=r)
        self.forecast = Gauge(
            names.FORECAST_RATE,
            "Today's day-ahead forecast of entry demand now (made at 00:00 UTC): P50, P90",
            [*labels, "app", "service", "forecast"], registry=r)
        self._forecast_labels: dict[tuple[str, str], tuple[str, str]] = {}
        self.leader = Gauge(names.LEADER, "1 while this replica holds the Lease", registry=r)
        self.full_periods = Counter(names.PERIODS,
                                    "Periods, and whether every scaler was reconciled",
                                    ["complete"], registry=r)
        self.watch_restarts = Counter(
            names.WATCH_RESTARTS,
            "Restarts of the PredictiveScaler watch, by reason (Timeout, Dropped, Expired, Resync)",
            ["reason"], registry=r)
        self._log = decision_log
        self._lock = threading.Lock()

    def decided(self, ref: ScalerRef, decision: Decision) -> None:
        self.decisions.labels(ref.namespace, ref.name, decision.reason.value).inc()
        for t in decision.targets:
            self.desired.labels(ref.namespace, ref.name, t.workload).set(t.desired)
        self._day_ahead(ref, decision.forecast.day_ahead if decision.forecast else None)
        if self._log is not None:
            with self._lock:
                self._log(decision.log_line(ref.namespace, ref.name))

    def _day_ahead(self, ref: ScalerRef, day_ahead: DayAhead | None) -> None:
        """The P50 and P90 series while there is a forecast; none (not a stale one) without."""
        key = (ref.namespace, ref.name)
        now = None if day_ahead is None else (ref.app, day_ahead.service)
        with self._lock:
            old = self._forecast_labels.pop(key, None)
            if old is not None and old != now:
                for q in QUANTILES:
                    self.forecast.remove(*key, *old, q)
            if day_ahead is None or now is None:
                return
            self._forecast_labels[key] = now
        for q, value in zip(QUANTILES, (day_ahead.p50_rps, day_ahead.p90_rps), strict=True):
            self.forecast.labels(*key, *now, q).set(value)

    def fallback(self, ref: ScalerRef, reason: str | None) -> None:
        self.fallback_active.labels(ref.namespace, ref.name).set(0 if reason is None else 1)
        if reason is not None:
            self.fallbacks.labels(ref.namespace, ref.name, reason).inc()


def serve(telemetry: Telemetry, port: int, healthy: Callable[[], bool],
          ready: Callable[[], bool], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the HTTP server in a daemon thread; `server.server_address` has the bound port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                self._send(200, generate_latest(telemetry.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                ok = healthy()
                self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n", "text/plain")
            elif self.path == "/readyz":
                ok = ready()
                self._send(200 if ok else 503, b"ok\n" if ok else b"not ready\n", "text/plain")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server

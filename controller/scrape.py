"""Direct pod-metrics scrape: the reactive rule's source when Prometheus is down.

In a cluster the HPA reads CPU from metrics-server, not Prometheus; this adapter plays that role
for the fallback: it scrapes one exposition endpoint (`spec.metrics.directUrl`) and reads the
per-service gauges `edgewise_service_cpu_utilization_ratio` and
`edgewise_service_requests_per_second` (label `service`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import requests
from prometheus_client.parser import text_string_to_metric_families

from controller import metric_names as names
from controller.metrics_fetch import UrlPolicy, bounded_get
from controller.observe import MetricKind, Sample, Samples
from controller.spec import ScalerSpec
from envs.graph import ServiceGraph
from scaler.errors import MetricsUnavailableError

DIRECT_METRICS = {
    names.SERVICE_CPU: MetricKind.CPU,
    names.SERVICE_RATE: MetricKind.RATE,
    names.SERVICE_P95: MetricKind.LATENCY,
}


def parse_exposition(text: str, now: datetime) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            kind = DIRECT_METRICS.get(s.name)
            if kind is not None and "service" in s.labels:
                out[(s.labels["service"], kind)] = Sample(float(s.value), now)
    return out


class DirectReader:
    """Scrapes `spec.metrics.directUrl` (a tenant's URL: checked by `policy`, read bounded)."""

    def __init__(self, url: str, clock: Callable[[], datetime],
                 policy: UrlPolicy | None = None) -> None:
        self.url, self.clock = url, clock
        self.policy = policy or UrlPolicy()
        self.session = requests.Session()

    def read(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph) -> Samples:
        self.policy.check(self.url, "spec.metrics.directUrl")
        body = bounded_get(self.session, self.url, timeout_seconds=3.0)
        try:
            return parse_exposition(body.decode("utf-8"), self.clock())
        except (UnicodeDecodeError, ValueError) as e:
            raise MetricsUnavailableError(
                f"direct metrics at {self.url}: not the Prometheus text format") from e

"""Prometheus adapter: PromQL templates -> samples, with prometheus-api-client.

Templates use `$namespace`, `$service` and `$workload` (string.Template, since PromQL needs the
braces). Connection failures and API errors become `PrometheusUnavailableError`; a query that
matches nothing gives no sample for that series, which the core reports as SeriesMissing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from string import Template

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from envs.graph import ServiceGraph
from scaler.errors import PrometheusUnavailableError
from scaler.observe import MetricKind, Sample, Samples
from scaler.spec import ScalerSpec

QUERY_TIMEOUT_SECONDS = 3.0


def render(template: str, namespace: str, service: str, workload: str) -> str:
    return Template(template).safe_substitute(namespace=namespace, service=service,
                                              workload=workload)


class PrometheusReader:
    def __init__(self, url: str) -> None:
        self.url = url
        self.prom = PrometheusConnect(url=url, disable_ssl=True,
                                      retry=Retry(total=1, backoff_factor=0))

    def query(self, promql: str) -> Sample | None:
        try:
            result = self.prom.custom_query(promql, params={"timeout": "3s"},
                                            timeout=QUERY_TIMEOUT_SECONDS)
        except (requests.RequestException, PrometheusApiClientException) as e:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.url}: {type(e).__name__}: {str(e)[:200]}") from e
        values = [(float(r["value"][0]), float(r["value"][1])) for r in result or []]
        if not values:
            return None
        total = sum(v for _, v in values)
        when = datetime.fromtimestamp(max(t for t, _ in values), UTC).replace(tzinfo=None)
        return Sample(total if not math.isnan(total) else math.nan, when)

    def read(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph) -> Samples:
        q = spec.metrics.queries
        templates = {MetricKind.RATE: q.rate, MetricKind.CPU: q.cpu, MetricKind.LATENCY: q.latency}
        out: Samples = {}
        for t in spec.targets:
            for kind, template in templates.items():
                out[(t.service, kind)] = self.query(render(template, namespace, t.service, t.name))
        return out

"""Prometheus adapter: PromQL templates -> samples, with prometheus-api-client.

Templates use `$namespace`, `$service` and `$workload` (string.Template, since PromQL needs the
braces). Connection failures and API errors become `PrometheusUnavailableError`; a query that
matches nothing gives no sample for that series, which the core reports as SeriesMissing.

`demand_history` runs the rate query of the graph's entry service as range queries over the
windows `controller.history.windows` cuts (at most 11,000 points each);
`controller.history` merges them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from string import Template

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from controller.errors import PrometheusUnavailableError
from controller.history import Grid, Series, windows
from controller.observe import MetricKind, Sample, Samples
from controller.spec import ScalerSpec
from envs.graph import ServiceGraph

QUERY_TIMEOUT_SECONDS = 3.0
RANGE_TIMEOUT_SECONDS = 20.0


def render(template: str, namespace: str, service: str, workload: str) -> str:
    return Template(template).safe_substitute(namespace=namespace, service=service,
                                              workload=workload)


class PrometheusReader:
    def __init__(self, url: str) -> None:
        self.url = url
        self.prom = PrometheusConnect(url=url, disable_ssl=True,
                                      retry=Retry(total=1, backoff_factor=0))

    def _unavailable(self, e: Exception) -> PrometheusUnavailableError:
        return PrometheusUnavailableError(
            f"Prometheus at {self.url}: {type(e).__name__}: {str(e)[:200]}")

    def query(self, promql: str) -> Sample | None:
        try:
            result = self.prom.custom_query(promql, params={"timeout": "3s"},
                                            timeout=QUERY_TIMEOUT_SECONDS)
        except (requests.RequestException, PrometheusApiClientException) as e:
            raise self._unavailable(e) from e
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

    def query_range(self, promql: str, start_epoch: int, end_epoch: int, step_seconds: int
                    ) -> list[Series]:
        """Every series the query matches over [start, end], as (Unix seconds, value) pairs."""
        try:
            result = self.prom.custom_query_range(
                promql, datetime.fromtimestamp(start_epoch, UTC),
                datetime.fromtimestamp(end_epoch, UTC), str(step_seconds),
                params={"timeout": f"{int(RANGE_TIMEOUT_SECONDS)}s"},
                timeout=RANGE_TIMEOUT_SECONDS)
        except (requests.RequestException, PrometheusApiClientException) as e:
            raise self._unavailable(e) from e
        return [[(float(t), float(v)) for t, v in r.get("values", [])] for r in result or []]

    def demand_history(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph, grid: Grid
                       ) -> list[Series]:
        """The entry service's rate query over the grid, one range query per window."""
        workload = next((t.name for t in spec.targets if t.service == graph.entry), graph.entry)
        promql = render(spec.metrics.queries.rate, namespace, graph.entry, workload)
        out: list[Series] = []
        for w in windows(grid):
            out.extend(self.query_range(promql, w.start_epoch, w.end_epoch, grid.step_seconds))
        return out

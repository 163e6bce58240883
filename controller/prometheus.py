"""Prometheus adapter: PromQL templates -> samples, over Prometheus' HTTP API.

Templates use `$namespace`, `$service` and `$workload` (string.Template, since PromQL needs the
braces). Connection failures and API errors become `PrometheusUnavailableError`; a query that
matches nothing gives no sample for that series, which the core reports as SeriesMissing.
The URL is the tenant's (`spec.metrics.prometheusUrl`): it is checked against the controller's
`UrlPolicy` and read with `controller.metrics_fetch.bounded_get` (bounded, no redirects, no body
in any error).

`demand_history` runs the rate query of the graph's entry service as range queries over the
windows `controller.history.windows` cuts (at most 11,000 points each);
`controller.history` merges them.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from string import Template
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from controller.errors import PrometheusUnavailableError
from controller.history import Grid, Series, windows
from controller.metrics_fetch import MetricsFetchError, UrlPolicy, bounded_get
from controller.observe import MetricKind, Sample, Samples
from controller.spec import ScalerSpec
from envs.graph import ServiceGraph

QUERY_TIMEOUT_SECONDS = 3.0
RANGE_TIMEOUT_SECONDS = 20.0


def render(template: str, namespace: str, service: str, workload: str) -> str:
    return Template(template).safe_substitute(namespace=namespace, service=service,
                                              workload=workload)


class PrometheusReader:
    def __init__(self, url: str, policy: UrlPolicy | None = None) -> None:
        self.url = url.rstrip("/")
        self.policy = policy or UrlPolicy()
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=Retry(total=1, backoff_factor=0, redirect=0))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _api(self, path: str, params: dict[str, str], timeout_seconds: float) -> list[Any]:
        """`data.result` of a Prometheus API answer; errors name the URL, never the body."""
        try:
            self.policy.check(self.url, "spec.metrics.prometheusUrl")
            body = bounded_get(self.session, f"{self.url}{path}", params=params,
                               timeout_seconds=timeout_seconds)
            doc = json.loads(body)
        except MetricsFetchError as e:
            raise PrometheusUnavailableError(f"Prometheus at {e}", e.delay_seconds) from e
        except ValueError as e:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.url}: the answer is not JSON") from e
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or doc.get("status") != "success" or not isinstance(
                data, dict) or not isinstance(data.get("result"), list):
            raise PrometheusUnavailableError(
                f"Prometheus at {self.url}: not a successful Prometheus API answer")
        result: list[Any] = data["result"]
        return result

    def query(self, promql: str) -> Sample | None:
        result = self._api("/api/v1/query", {"query": promql, "timeout": "3s"},
                           QUERY_TIMEOUT_SECONDS)
        try:
            values = [(float(r["value"][0]), float(r["value"][1])) for r in result]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.url}: a vector sample is malformed") from e
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
        result = self._api("/api/v1/query_range", {
            "query": promql, "start": str(start_epoch), "end": str(end_epoch),
            "step": str(step_seconds), "timeout": f"{int(RANGE_TIMEOUT_SECONDS)}s"},
            RANGE_TIMEOUT_SECONDS)
        try:
            return [[(float(t), float(v)) for t, v in r.get("values", [])] for r in result]
        except (AttributeError, TypeError, ValueError) as e:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.url}: a range series is malformed") from e

    def demand_history(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph, grid: Grid
                       ) -> list[Series]:
        """The entry service's rate query over the grid, one range query per window."""
        workload = next((t.name for t in spec.targets if t.service == graph.entry), graph.entry)
        promql = render(spec.metrics.queries.rate, namespace, graph.entry, workload)
        out: list[Series] = []
        for w in windows(grid):
            out.extend(self.query_range(promql, w.start_epoch, w.end_epoch, grid.step_seconds))
        return out

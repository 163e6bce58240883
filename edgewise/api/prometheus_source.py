"""SLO figures and series from Prometheus: the recording rules of `edgewise slo rules`, and the
replayed (or real) service gauges. Plain HTTP on the query API; any failure is a
`SourceUnavailableError` (503 on the API, a stale banner on the page)."""

from __future__ import annotations

import re
from typing import Any

import requests

from controller.metric_names import FORECAST_RATE
from edgewise.api.errors import SourceUnavailableError
from edgewise.api.sources import ScalerKey, Series, SeriesKind
from slo.model import Slo
from slo.rules import WINDOW_RECORD
from slo.status import WINDOW

RECORDS = r'{__name__=~"edgewise_slo:sli_error:ratio_(rate[0-9]+[mhd]|window)"}'
KIND_QUERY = {
    SeriesKind.DEMAND_RPS: "sum by (service) (edgewise_service_requests_per_second{SEL})",
    SeriesKind.REPLICAS_DESIRED: "sum by (service) (edgewise_service_desired_replicas{SEL})",
    SeriesKind.REPLICAS_READY: "sum by (service) (edgewise_service_ready_replicas{SEL})",
    SeriesKind.P95_LATENCY_MS:
        "1000 * max by (service) (edgewise_service_p95_latency_seconds{SEL})",
    SeriesKind.ERROR_RATIO: 'edgewise_slo:sli_error:ratio_rate5m{slo=~"SLOS"}',
}
QUANTILE = {SeriesKind.FORECAST_P50_RPS: "p50", SeriesKind.FORECAST_P90_RPS: "p90"}
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def forecast_query(selector: dict[str, str], scalers: tuple[ScalerKey, ...], forecast: str
                   ) -> str | None:
    """The day-ahead forecast of the app: the series of its SLO selector (a twin run's export)
    or of its PredictiveScalers (the controller's gauge); None when it has neither."""
    parts = []
    if selector:
        sel = ",".join(f'{k}="{v}"' for k, v in sorted(selector.items()))
        parts.append(f'{FORECAST_RATE}{{{sel},forecast="{forecast}"}}')
    for namespace, name in scalers:
        if K8S_NAME.match(namespace) and K8S_NAME.match(name):
            parts.append(f'{FORECAST_RATE}{{namespace="{namespace}",scaler="{name}",'
                         f'forecast="{forecast}"}}')
    return f"max by (service) ({' or '.join(parts)})" if parts else None


class PrometheusSource:
    name = "prometheus"

    def __init__(self, url: str, timeout_seconds: float = 3.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout_seconds
        self.http = requests.Session()

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            r = self.http.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as e:
            raise SourceUnavailableError("prometheus", f"{type(e).__name__}: {e}") from e
        if r.status_code != 200:
            raise SourceUnavailableError("prometheus", f"HTTP {r.status_code}: {r.text[:200]}")
        body = r.json()
        if body.get("status") != "success":
            raise SourceUnavailableError("prometheus", str(body.get("error")))
        return body["data"]["result"]

    def error_ratios(self, slos: tuple[Slo, ...]) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {s.name: {} for s in slos}
        for item in self._get("/api/v1/query", {"query": RECORDS}):
            labels = item["metric"]
            name = labels.get("slo")
            if name not in out:
                continue
            record = labels["__name__"]
            window = WINDOW if record == WINDOW_RECORD else record.rsplit("ratio_rate", 1)[1]
            out[name][window] = float(item["value"][1])
        return out

    def series(self, app: str, slos: tuple[Slo, ...], kind: SeriesKind, start: float,
               end: float, step: float, scalers: tuple[ScalerKey, ...] = ()) -> list[Series]:
        mine = [s for s in slos if s.app == app]
        labels = {k: v for s in mine for k, v in s.selector if k != "service"}
        if kind is SeriesKind.ERROR_RATIO:
            query = KIND_QUERY[kind].replace("SLOS", "|".join(s.name for s in mine))
        elif kind in QUANTILE:
            found = forecast_query(labels, scalers, QUANTILE[kind])
            if found is None:
                return []
            query = found
        else:
            sel = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            query = KIND_QUERY[kind].replace("SEL", sel)
        result = self._get("/api/v1/query_range", {
            "query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"})
        return [Series(item["metric"].get("service") or item["metric"].get("slo") or app,
                       [(float(t), float(v)) for t, v in item["values"]]) for item in result]

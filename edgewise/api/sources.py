"""Where SLO figures and an app's series come from: the `SloSource` port, and the store-backed
source `edgewise serve --demo` uses (the same SLO math on the twin's own request counts).
The Prometheus adapter is `prometheus_source.py`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from edgewise.api.store import Store
from slo.budget import RATE_WINDOWS
from slo.model import Objective, Slo
from slo.status import WINDOW

WINDOW_SECONDS = {"5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "6h": 21_600, "1d": 86_400,
                  "3d": 259_200}


class SeriesKind(Enum):
    DEMAND_RPS = "demand_rps"
    REPLICAS_DESIRED = "replicas_desired"
    REPLICAS_READY = "replicas_ready"
    P95_LATENCY_MS = "p95_latency_ms"
    ERROR_RATIO = "error_ratio"
    FORECAST_P50_RPS = "forecast_p50_rps"
    FORECAST_P90_RPS = "forecast_p90_rps"


ScalerKey = tuple[str, str]  # a PredictiveScaler's namespace and name


@dataclass(frozen=True)
class Series:
    name: str  # a service, or the app
    points: list[tuple[float, float]]


class SloSource(Protocol):
    name: str

    def error_ratios(self, slos: tuple[Slo, ...]) -> dict[str, dict[str, float | None]]:
        """SLO name -> window ("5m" ... "3d", and "window") -> bad / all requests."""
        ...

    def series(self, app: str, slos: tuple[Slo, ...], kind: SeriesKind, start: float,
               end: float, step: float, scalers: tuple[ScalerKey, ...] = ()) -> list[Series]:
        """`scalers`: the app's PredictiveScalers, whose controller exports the forecast."""
        ...


def within_name(slo: Slo) -> str:
    return f"within:{slo.le}"


class StoreSource:
    """SLIs from per-tick request counts in the store (the demo's twin runs)."""

    name = "store"

    def __init__(self, store: Store) -> None:
        self.store = store

    def _ratio(self, slo: Slo, start: int, end: int) -> float | None:
        total = self.store.sample_sum(slo.app, "requests", start, end)
        if total <= 0:
            return None
        if slo.objective is Objective.LATENCY:
            bad = total - self.store.sample_sum(slo.app, within_name(slo), start, end)
        else:
            bad = self.store.sample_sum(slo.app, "errors", start, end)
        return max(bad, 0.0) / total

    def error_ratios(self, slos: tuple[Slo, ...]) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for slo in slos:
            end = self.store.last_sample_epoch(slo.app)
            if end is None:
                out[slo.name] = {}
                continue
            ratios = {w: self._ratio(slo, end - WINDOW_SECONDS[w], end) for w in RATE_WINDOWS}
            ratios[WINDOW] = self._ratio(slo, end - slo.window_seconds, end)
            out[slo.name] = ratios
        return out

    def series(self, app: str, slos: tuple[Slo, ...], kind: SeriesKind, start: float,
               end: float, step: float, scalers: tuple[ScalerKey, ...] = ()) -> list[Series]:
        points = self.store.samples(app, kind.value, int(start), int(end))
        picked = downsample([(float(t), v) for t, v in points], start, step)
        return [Series(app, picked)] if picked else []


def downsample(points: list[tuple[float, float]], start: float, step: float
               ) -> list[tuple[float, float]]:
    """One point per `step` from `start`: the last of each bucket (as Prometheus evaluates a
    gauge at each step), so a chart of 500 px gets ~500 points whatever the span."""
    out: list[tuple[float, float]] = []
    last_bucket = None
    for t, v in points:
        bucket = int((t - start) // step)
        if bucket == last_bucket:
            out[-1] = (t, v)
        else:
            out.append((t, v))
            last_bucket = bucket
    return out

"""A twin run as Prometheus would have scraped it: the entry service's request counters
(`edgewise_requests_total`, `edgewise_request_errors_total`), its latency histogram
(`edgewise_request_duration_seconds`, buckets of `envs/sli.py`) and the per-service gauges of
`edgewise replay` (and, given one, the day-ahead forecast), written as OpenMetrics text with
one sample per tick for `promtool tsdb create-blocks-from openmetrics`.

Counters start with a 0 sample one tick before the run, as a freshly started process would
expose them, so rate() and increase() over any window that holds the run see all of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from controller.metric_names import FORECAST_RATE
from envs.scenario import Scenario
from envs.sli import request_counts, slo_buckets
from evaluation.episode import Episode
from planning.dayahead import TickForecast
from slo.model import format_le


def _labels(pairs: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in pairs.items())


def _lines(name: str, labels: dict[str, str], stamps: np.ndarray, values: np.ndarray
           ) -> Iterator[str]:
    lab = _labels(labels)
    for t, v in zip(stamps.tolist(), values.tolist(), strict=True):
        yield f"{name}{{{lab}}} {v!r} {t}"


def openmetrics(scenario: Scenario, run_rps: np.ndarray, episode: Episode, end_epoch: int,
                labels: dict[str, str], forecast: TickForecast | None = None) -> str:
    """Text for one run whose last tick is at `end_epoch` (Unix seconds)."""
    config = scenario.config()
    ticks = len(run_rps)
    tick = scenario.tick_seconds
    stamps = end_epoch - (ticks - 1 - np.arange(ticks)) * tick
    with_zero = np.concatenate([[stamps[0] - tick], stamps])
    buckets = slo_buckets(scenario.slo.p95_latency_ms / 1000.0)
    counts = request_counts(config, run_rps, episode.trajectory, buckets)
    entry = scenario.graph.entry
    base = {**labels, "service": entry}

    def cumulative(x: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(x)])

    out = ["# TYPE edgewise_requests_total counter", "# HELP edgewise_requests_total Requests"]
    out += _lines("edgewise_requests_total", base, with_zero, cumulative(counts.requests))
    out += ["# TYPE edgewise_request_errors_total counter",
            "# HELP edgewise_request_errors_total Requests that failed"]
    out += _lines("edgewise_request_errors_total", base, with_zero, cumulative(counts.errors))
    h = "edgewise_request_duration_seconds"
    out += [f"# TYPE {h} histogram", f"# HELP {h} End-to-end request latency"]
    for j, b in enumerate(buckets):
        out += _lines(f"{h}_bucket", {**base, "le": format_le(b)}, with_zero,
                      cumulative(counts.within[:, j]))
    out += _lines(f"{h}_bucket", {**base, "le": "+Inf"}, with_zero, cumulative(counts.requests))
    out += _lines(f"{h}_count", base, with_zero, cumulative(counts.requests))
    out += _gauges(scenario, run_rps, episode, stamps, labels)
    if forecast is not None:
        out += _forecast(scenario, forecast, stamps, labels)
    return "\n".join(out) + "\n# EOF\n"


def _forecast(scenario: Scenario, forecast: TickForecast, stamps: np.ndarray,
              labels: dict[str, str]) -> list[str]:
    """The day-ahead P50 and P90 of entry demand (`planning/dayahead.py`); ticks without a
    forecast have no sample."""
    name = FORECAST_RATE
    out = [f"# TYPE {name} gauge", f"# HELP {name} Day-ahead forecast of entry demand"]
    for q, values in (("p50", forecast.p50_rps), ("p90", forecast.p90_rps)):
        ok = np.isfinite(values)
        out += _lines(name, {**labels, "service": scenario.graph.entry, "forecast": q},
                      stamps[ok], np.asarray(values[ok], dtype=float))
    return out


def _gauges(scenario: Scenario, run_rps: np.ndarray, episode: Episode, stamps: np.ndarray,
            labels: dict[str, str]) -> list[str]:
    rates = run_rps[:, None] * scenario.config().visit_ratios[None, :]
    per_service = {
        "edgewise_service_requests_per_second": ("Offered load", rates),
        "edgewise_service_desired_replicas": ("Replicas wanted", episode.trajectory.desired),
        "edgewise_service_ready_replicas": ("Replicas serving", episode.trajectory.ready),
    }
    out: list[str] = []
    for name, (help_text, values) in per_service.items():
        out += [f"# TYPE {name} gauge", f"# HELP {name} {help_text}"]
        for i, service in enumerate(scenario.graph.names):
            out += _lines(name, {**labels, "service": service}, stamps,
                          np.asarray(values[:, i], dtype=float))
    p95 = "edgewise_service_p95_latency_seconds"
    out += [f"# TYPE {p95} gauge", f"# HELP {p95} End-to-end p95 latency at the entry"]
    out += _lines(p95, {**labels, "service": scenario.graph.entry}, stamps,
                  np.asarray(episode.metrics.e2e_p95_ms, dtype=float) / 1000.0)
    return out


def write_openmetrics(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path

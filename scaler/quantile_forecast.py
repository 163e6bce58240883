"""Hourly P50/P90 forecasts: the calendar-aware quantile model and the two baselines.

- `QuantileForecaster`: features from `scaler.forecast_features`, a network from the torch
  adapter `scaler.quantile_torch` (trained once on a history, then used at any later origin).
- `baseline_forecast`: seasonal naive (same hour last week) or Holt-Winters (`scaler.forecast`),
  on hourly means. Their P90 is the point forecast times the 90th percentile of actual over
  seasonal naive in the history (a split-conformal band): they have no spread of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np

from envs.trace import load_trace, scan_csv
from envs.workload import Event
from scaler.errors import ForecastInputError, ScalerError
from scaler.forecast import HoltWinters, SeasonalNaive
from scaler.forecast_features import (
    HOUR_SECONDS,
    FeatureSpec,
    HourlySeries,
    forecast_design,
    hourly,
    training_design,
)
from scaler.quantile_torch import QuantileModel, TrainingSettings, train

_EPOCH = datetime(1970, 1, 1)


class Method(StrEnum):
    QUANTILE = "quantile-mlp"
    SEASONAL_NAIVE = "seasonal-naive"
    HOLT_WINTERS = "holt-winters"
    CALENDAR_NAIVE = "calendar-naive"


@dataclass(frozen=True)
class QuantileForecast:
    method: Method
    start: datetime  # the first forecast hour
    p50: np.ndarray
    p90: np.ndarray


@dataclass
class QuantileForecaster:
    """Train once with `fit`, then `forecast` from any history that extends the training one."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    settings: TrainingSettings = field(default_factory=TrainingSettings)
    seed: int = 0
    horizon_hours: int = 48
    model: QuantileModel | None = None

    def fit(self, series: HourlySeries, calendar: Sequence[Event]) -> QuantileModel:
        design = training_design(series, calendar, self.horizon_hours, self.spec)
        self.model = train(design.x, design.target, self.settings, self.seed)
        return self.model

    def forecast(self, series: HourlySeries, calendar: Sequence[Event],
                 horizon_hours: int) -> QuantileForecast:
        if self.model is None:
            raise ScalerError("QuantileForecaster.forecast called before fit()")
        design = forecast_design(series, calendar, horizon_hours, self.spec)
        q = self.model.predict(design.x)
        p50 = np.maximum(design.scale * q[:, 0] + design.prior, 0.0)
        # the prior is a mean: its P90 takes the spread of actual over seasonal naive
        p90 = np.maximum(design.scale * q[:, 1] + design.prior * band_multiplier(series), p50)
        return QuantileForecast(Method.QUANTILE, series.time(len(series)), p50, p90)


def band_multiplier(series: HourlySeries, season_hours: int = 168, q: float = 0.9) -> float:
    """The q-quantile of actual over seasonal naive across the history (at least 1)."""
    y = series.rps
    if len(y) <= season_hours:
        return 1.0
    ratio = y[season_hours:] / np.maximum(y[:-season_hours], 1e-6)
    return max(float(np.quantile(ratio, q)), 1.0)


def baseline_forecast(method: Method, series: HourlySeries, horizon_hours: int,
                      season_hours: int = 168) -> QuantileForecast:
    """Seasonal naive or Holt-Winters on the hourly series (ForecastInputError if too short)."""
    y = series.rps
    if method is Method.SEASONAL_NAIVE:
        if len(y) < season_hours:
            raise ForecastInputError(
                f"seasonal naive needs {season_hours} h of history, has {len(y)} h")
        point = SeasonalNaive(HOUR_SECONDS, season_hours * HOUR_SECONDS).predict(y, horizon_hours)
    elif method is Method.HOLT_WINTERS:
        hw = HoltWinters(HOUR_SECONDS, season_seconds=season_hours * HOUR_SECONDS,
                         window_seconds=2 * season_hours * HOUR_SECONDS,
                         horizon_seconds=horizon_hours * HOUR_SECONDS)
        try:
            point = hw.predict(y, horizon_hours)
        except ValueError as e:
            raise ForecastInputError(str(e)) from e
    else:
        raise ValueError(f"not a baseline: {method}")
    point = np.asarray(point, dtype=float)
    band = band_multiplier(series, season_hours)
    return QuantileForecast(method, series.time(len(series)), point, point * band)


def trace_series(path: Path) -> HourlySeries:
    """Hourly means of a trace CSV (either shape `envs.trace` reads), from its first timestamp."""
    scan = scan_csv(path)
    first = _EPOCH + timedelta(seconds=scan.first)
    span = scan.last - scan.first
    if scan.times is None:
        tick = 60
    else:
        step = (float(np.median(np.diff(scan.times))) if len(scan.times) > 1
                else float(HOUR_SECONDS))
        if step > HOUR_SECONDS:
            raise ForecastInputError(
                f"trace {path.name!r}: samples every {step:.0f} s; hourly or finer is needed")
        tick = int(step) if step >= 1 and HOUR_SECONDS % int(step) == 0 else 60
        span += step
    ticks = int(span // tick)
    if ticks < 1:
        raise ForecastInputError(f"trace {path.name!r}: covers less than one tick")
    return hourly(load_trace(path, first, ticks, tick), first, tick)


def calendar_naive_forecast(series: HourlySeries, calendar: Sequence[Event], horizon_hours: int,
                            spec: FeatureSpec | None = None) -> QuantileForecast:
    """Seasonal naive plus the announced events' prior: the fallback when torch is missing."""
    spec = spec or FeatureSpec()
    base = baseline_forecast(Method.SEASONAL_NAIVE, series, horizon_hours, spec.season_hours)
    prior = forecast_design(series, calendar, horizon_hours, spec).prior
    return QuantileForecast(Method.CALENDAR_NAIVE, base.start, base.p50 + prior,
                            base.p90 + prior * band_multiplier(series, spec.season_hours))

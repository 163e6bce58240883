"""Features for the quantile forecaster: pure numpy, no torch.

Demand is forecast hourly (the mean entry rate of each hour). For a forecast made at origin `t`
(the first unobserved hour) of hour `j = t + k`, k = 0 .. horizon - 1, one row holds:

- the last `lookback_hours` of *ordinary* demand (events taken out), scaled by `s`, the mean
  ordinary demand of the last season (a week);
- the ordinary demand one season before `j` (known for any k < season), scaled;
- k / horizon; time of day and day of week of `j` (sine and cosine);
- the announced uplift at `j` (in units of the ordinary daily peak, as `envs.workload.Event`
  defines it) and that uplift times the peak reference over `s`;
- the level ratio: the last day's ordinary demand over the same day a season earlier;
- the mean ordinary demand at the same hour of day over the last season's days, scaled.

Announced events are known-future inputs. Histories rarely hold an event, so the model is not
asked to learn their size: a forecast is `s * model(row) + uplift(j) * peak(j)`, where `peak(j)`
is the ordinary daily peak of the same weekday a season earlier. The model learns the ordinary
part and its spread; the calendar's declared multiplier sets the event's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from envs.daily_peak import calendar_day_maxima, calendar_days
from envs.workload import Event, event_uplift
from scaler.errors import ForecastInputError

HOUR_SECONDS = 3600
EVENT_THRESHOLD = 0.05  # uplift (daily-peak units) above which an hour counts as in an event
UPLIFT_SAMPLES_PER_HOUR = 12


@dataclass(frozen=True)
class HourlySeries:
    """Mean entry demand (requests per second) of consecutive whole hours from `start`."""

    start: datetime
    rps: np.ndarray

    def __len__(self) -> int:
        return len(self.rps)

    def head(self, hours: int) -> HourlySeries:
        """The first `hours` hours: what was observed by then."""
        return HourlySeries(self.start, self.rps[:hours])

    def time(self, hour: int) -> datetime:
        return self.start + timedelta(hours=hour)


@dataclass(frozen=True)
class FeatureSpec:
    lookback_hours: int = 48
    season_hours: int = 168
    level_hours: int = 24

    @property
    def min_history_hours(self) -> int:
        """Hours of history a forecast origin needs (lookback, lag and level ratio)."""
        return max(self.lookback_hours, self.season_hours + self.level_hours)

    @property
    def width(self) -> int:
        return self.lookback_hours + 10


@dataclass(frozen=True)
class Design:
    """Model rows, their scale `s` and event prior (forecast = s * output + prior); `target`
    (ordinary demand over `s`) is NaN for rows to forecast."""

    x: np.ndarray
    target: np.ndarray
    scale: np.ndarray
    prior: np.ndarray
    hour: np.ndarray  # index of the forecast hour j in the series


def hourly(rps: np.ndarray, start: datetime, tick_seconds: int) -> HourlySeries:
    """Hourly means of a per-tick series; partial hours at either end are dropped."""
    if tick_seconds <= 0 or HOUR_SECONDS % tick_seconds:
        raise ForecastInputError(
            f"tick of {tick_seconds} s does not divide an hour: resample the trace to 60 s ticks"
        )
    per = HOUR_SECONDS // tick_seconds
    into_hour = (start - start.replace(minute=0, second=0, microsecond=0)).total_seconds()
    skip = (-int(into_hour) // tick_seconds) % per
    values = np.asarray(rps, dtype=float)[skip:]
    hours = len(values) // per
    first = start + timedelta(seconds=skip * tick_seconds)
    return HourlySeries(first, values[: hours * per].reshape(hours, per).mean(axis=1))


def calendar_features(start: datetime, hours: np.ndarray) -> np.ndarray:
    """(n, 4): sine and cosine of the hour of day and of the day of week of each hour."""
    h = np.asarray(hours, dtype=float) + start.hour + start.minute / 60.0
    day = start.weekday() + h / 24.0
    return np.stack([np.sin(2 * np.pi * h / 24), np.cos(2 * np.pi * h / 24),
                     np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7)], axis=1)


def announced_uplift(calendar: Sequence[Event], start: datetime, hours: int,
                     reduce: str = "mean") -> np.ndarray:
    """Mean (or max) uplift of the announced events over each hour, in units of the ordinary
    daily peak."""
    step = HOUR_SECONDS / UPLIFT_SAMPLES_PER_HOUR
    offsets = (np.arange(hours * UPLIFT_SAMPLES_PER_HOUR) + 0.5) * step
    known = tuple(e for e in calendar if e.announced)
    u = event_uplift(known, start, offsets).reshape(hours, UPLIFT_SAMPLES_PER_HOUR)
    result: np.ndarray = u.max(axis=1) if reduce == "max" else u.mean(axis=1)
    return result


def daily_peaks(series: HourlySeries, uplift: np.ndarray) -> np.ndarray:
    """Ordinary daily peak of each calendar day the series touches: the day's maximum over its
    hours outside events; a day that is all event takes the previous day's peak."""
    quiet = uplift[: len(series)] < EVENT_THRESHOLD
    peaks = calendar_day_maxima(series.rps, series.start, HOUR_SECONDS, include=quiet)
    for d in range(len(peaks)):  # carry forward over all-event days, then backward at the start
        if np.isnan(peaks[d]) and d > 0:
            peaks[d] = peaks[d - 1]
    valid = peaks[~np.isnan(peaks)]
    fill = float(valid[0]) if len(valid) else float(np.max(series.rps, initial=0.0))
    return np.where(np.isnan(peaks), fill, peaks)


@dataclass(frozen=True)
class Ordinary:
    """The series without its announced events, and the peak reference of every hour."""

    rps: np.ndarray  # observed hours
    uplift: np.ndarray  # observed + future hours
    peak: np.ndarray  # observed + future hours


def ordinary(series: HourlySeries, calendar: Sequence[Event], future_hours: int,
             season_hours: int) -> Ordinary:
    """Observed hours use their own day's ordinary peak; future hours the same weekday's a
    season earlier (or the last observed day's, if that is not observed)."""
    n = len(series)
    uplift = announced_uplift(calendar, series.start, n + future_hours)
    peaks = daily_peaks(series, uplift)
    days = calendar_days(series.start, n + future_hours, HOUR_SECONDS)
    season_days = max(season_hours // 24, 1)
    past = np.where(days < len(peaks), days, days - season_days)
    past = np.clip(np.where(past < len(peaks), past, len(peaks) - 1), 0, len(peaks) - 1)
    peak = peaks[past]
    return Ordinary(np.maximum(series.rps - uplift[:n] * peak[:n], 0.0), uplift, peak)


def _rows(o: Ordinary, start: datetime, origins: np.ndarray, steps: np.ndarray,
          horizon: int, spec: FeatureSpec) -> Design:
    y, j = o.rps, origins + steps
    lb = origins[:, None] - spec.lookback_hours + np.arange(spec.lookback_hours)[None, :]
    season = origins[:, None] - spec.season_hours + np.arange(spec.season_hours)[None, :]
    scale = np.maximum(y[season].mean(axis=1), 1e-6)
    recent = y[origins[:, None] - spec.level_hours + np.arange(spec.level_hours)].mean(axis=1)
    before = y[origins[:, None] - spec.level_hours - spec.season_hours
               + np.arange(spec.level_hours)].mean(axis=1)
    level = recent / np.maximum(before, 1e-6)
    same_hour = (origins - 24 + (steps % 24))[:, None] - 24 * np.arange(spec.season_hours // 24)
    daily = y[same_hour].mean(axis=1) / scale
    cols = [y[lb] / scale[:, None], (y[j - spec.season_hours] / scale)[:, None],
            (steps / horizon)[:, None], calendar_features(start, j),
            o.uplift[j][:, None], (o.uplift[j] * o.peak[j] / scale)[:, None],
            np.clip(level, 0.0, 10.0)[:, None], daily[:, None]]
    x = np.concatenate(cols, axis=1).astype(np.float32)
    target = np.where(j < len(y), y[np.minimum(j, len(y) - 1)], np.nan) / scale
    return Design(x, target, scale, o.uplift[j] * o.peak[j], j)


def training_design(series: HourlySeries, calendar: Sequence[Event], horizon: int,
                    spec: FeatureSpec) -> Design:
    """Every (origin, step) inside the series whose target is observed: the training rows."""
    n = len(series)
    if n < spec.min_history_hours + 1:
        raise ForecastInputError(
            f"training needs more than {spec.min_history_hours} h of history, has {n} h"
        )
    _check_horizon(horizon, spec)
    o = ordinary(series, calendar, 0, spec.season_hours)
    t, k = np.meshgrid(np.arange(spec.min_history_hours, n), np.arange(horizon), indexing="ij")
    keep = (t + k) < n
    return _rows(o, series.start, t[keep], k[keep], horizon, spec)


def forecast_design(series: HourlySeries, calendar: Sequence[Event], horizon: int,
                    spec: FeatureSpec) -> Design:
    """Rows for the `horizon` hours after the end of `series`."""
    n = len(series)
    if n < spec.min_history_hours:
        raise ForecastInputError(
            f"a forecast needs {spec.min_history_hours} h of history, has {n} h"
        )
    _check_horizon(horizon, spec)
    o = ordinary(series, calendar, horizon, spec.season_hours)
    steps = np.arange(horizon)
    return _rows(o, series.start, np.full(horizon, n), steps, horizon, spec)


def _check_horizon(horizon: int, spec: FeatureSpec) -> None:
    if not 0 < horizon <= spec.season_hours:
        raise ForecastInputError(
            f"horizon of {horizon} h: must be 1 to {spec.season_hours} h (one season)"
        )

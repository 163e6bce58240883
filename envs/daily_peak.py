"""The ordinary daily peak of a demand series: the one definition the sizing rules share.

A day is a calendar day (midnight to midnight, in the series' own clock); its peak is the maximum
of the samples that fall in it (optionally only those `include` selects, e.g. outside events).
`median_daily_peak` is the median of those peaks, the "usual busiest moment of a day" KEDA's cron
floors scale from.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

DAY_SECONDS = 86_400


def calendar_days(start: datetime, n: int, step_seconds: float) -> np.ndarray:
    """The calendar day (0 = the day of `start`) of each of `n` samples `step_seconds` apart."""
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offsets = np.arange(n) * step_seconds + (start - midnight).total_seconds()
    days: np.ndarray = np.floor_divide(offsets, DAY_SECONDS).astype(int)
    return days


def calendar_day_maxima(values: np.ndarray, start: datetime, step_seconds: float,
                        include: np.ndarray | None = None) -> np.ndarray:
    """The maximum of each calendar day the series touches (NaN for a day with no included
    sample); `include` masks the samples that count."""
    values = np.asarray(values, dtype=float)
    days = calendar_days(start, len(values), step_seconds)
    peaks = np.full(int(days[-1]) + 1 if len(days) else 0, -np.inf)
    keep = np.ones(len(values), dtype=bool) if include is None else np.asarray(include, bool)
    np.maximum.at(peaks, days[keep], values[keep])
    peaks[np.isinf(peaks)] = np.nan
    return peaks


def median_daily_peak(values: np.ndarray, start: datetime, step_seconds: float) -> float:
    """Median over calendar days of the daily maximum (0 for an empty series)."""
    peaks = calendar_day_maxima(values, start, step_seconds)
    peaks = peaks[~np.isnan(peaks)]
    return float(np.median(peaks)) if len(peaks) else 0.0

"""The day-ahead forecast of entry demand: what the planner's model (`calendar_naive_forecast`,
seasonal naive plus the announced events' prior, P50 and P90) forecasts at the start of a day for
that day's hours, from the demand observed until then.

One model, two users: the twin's runs (`planning/dayahead.py`, a value per tick, which
`edgewise/twin_export.py` exports) and the controller (`controller/dayahead.py`, the gauge
`edgewise_forecast_requests_per_second{forecast}` of a live scaler). The dashboard draws it beside
the actual demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from envs.workload import Event
from scaler.errors import ScalerError
from scaler.forecast_features import HOUR_SECONDS, hourly
from scaler.quantile_forecast import QuantileForecast, calendar_naive_forecast

DAY = timedelta(days=1)
HORIZON_HOURS = 25  # the day's hours, and the partial hour the history may end inside


@dataclass(frozen=True)
class DayForecast:
    """The forecast issued at `day` (its start) for [day, day + 24 h)."""

    day: datetime
    forecast: QuantileForecast  # hourly, from the first whole hour after the history

    def over(self, offsets_seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P50 and P90 at `day + offsets` (NaN outside the day or the forecast)."""
        off = np.asarray(offsets_seconds, dtype=float)
        lag = (self.day - self.forecast.start).total_seconds()
        hour = np.floor((off + lag) / HOUR_SECONDS).astype(int)
        ok = (off >= 0) & (off < DAY.total_seconds()) & (hour >= 0) \
            & (hour < len(self.forecast.p50))
        p50, p90 = np.full(len(off), np.nan), np.full(len(off), np.nan)
        p50[ok], p90[ok] = self.forecast.p50[hour[ok]], self.forecast.p90[hour[ok]]
        return p50, p90

    def at(self, t: datetime) -> tuple[float, float] | None:
        """P50 and P90 at `t`; None outside the day, or where the forecast has no number (the
        same hour a week earlier was not observed)."""
        p50, p90 = self.over(np.array([(t - self.day).total_seconds()]))
        if not (np.isfinite(p50[0]) and np.isfinite(p90[0])):
            return None
        return float(p50[0]), float(p90[0])


def issue(rps: np.ndarray, first: datetime, tick_seconds: int, calendar: Sequence[Event],
          day: datetime) -> DayForecast | None:
    """The forecast for the day starting at `day`, from the ticks of `rps` (the first at `first`)
    before it; None when that is too little (seasonal naive needs a week of whole hours)."""
    n = int((day - first).total_seconds() // tick_seconds)
    if n <= 0:
        return None
    try:
        seen = hourly(np.asarray(rps, dtype=float)[:n], first, tick_seconds)
        with np.errstate(invalid="ignore"):  # an hour not observed is NaN: no forecast there
            fc = calendar_naive_forecast(seen, calendar, HORIZON_HOURS)
    except ScalerError:
        return None
    return DayForecast(day, fc)


def midnight(t: datetime) -> datetime:
    """00:00 of `t`'s day (UTC, like every time in the core)."""
    return t.replace(hour=0, minute=0, second=0, microsecond=0)

"""A live scaler's day-ahead forecast of entry demand (`scaler/dayahead.py`), for its status and
the gauge `edgewise_forecast_requests_per_second{forecast="p50"|"p90"}` the dashboard draws
beside the actual demand.

Pure: the entry demand the controller has seen, on the scaler's tick grid (the history it loaded
from Prometheus, then one sample per period), and the forecast issued from it at each 00:00 UTC
for that day: the same forecast, made the same way, that the twin exports for its runs. Short
gaps (a controller restart, a missed period) are filled as the loaded history's are; longer
ones leave the hours that depend on them without a forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from controller.history import MAX_GAP_SECONDS, fill_gaps
from envs.workload import Event
from scaler.dayahead import DayForecast, issue, midnight

KEEP_SECONDS = 15 * 86_400  # the seasonal-naive week, its lookback, and a margin


def _epoch(t: datetime) -> float:
    return t.replace(tzinfo=UTC).timestamp()


class DemandLog:
    """Entry demand per tick from `first_epoch` (a multiple of the tick), and the day's
    forecast. The buffer grows geometrically and keeps at least `keep_seconds` of ticks."""

    def __init__(self, rps: np.ndarray, last_epoch: int, tick_seconds: int,
                 calendar: Sequence[Event], keep_seconds: int = KEEP_SECONDS) -> None:
        self.tick = tick_seconds
        self.calendar = tuple(calendar)
        self.keep = max(1, keep_seconds // tick_seconds)
        values = np.asarray(rps, dtype=float)[-self.keep:]
        self._buf = np.concatenate([values, np.full(max(len(values), 64), np.nan)])
        self._n = len(values)
        self.first_epoch = last_epoch - (len(values) - 1) * tick_seconds
        self.day: datetime | None = None  # the day `issued` was made for (None: not yet)
        self.issued: DayForecast | None = None

    @property
    def rps(self) -> np.ndarray:
        """The ticks seen, oldest first (NaN where no sample came)."""
        return self._buf[: self._n]

    def observe(self, now: datetime, rps: float) -> None:
        """The entry rate at `now`, on its tick (a later sample of the same tick replaces it)."""
        if not np.isfinite(rps):
            return
        epoch = int(_epoch(now)) // self.tick * self.tick
        if self._n == 0:
            self.first_epoch = epoch
        i = (epoch - self.first_epoch) // self.tick
        if i < 0:
            return
        if i >= len(self._buf):
            grown = np.full(max(2 * len(self._buf), i + 1), np.nan)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : i] = np.nan
        self._buf[i] = rps
        self._n = max(self._n, i + 1)
        if self._n > self.keep + self.keep // 4:  # trim now and then, not every tick
            drop = self._n - self.keep
            self._buf[: self.keep] = self._buf[drop : self._n]
            self._n, self.first_epoch = self.keep, self.first_epoch + drop * self.tick

    def quantiles(self, now: datetime) -> tuple[float, float] | None:
        """Today's forecast P50 and P90 at `now`: issued from what was seen before 00:00 UTC
        (once a day; None all day when less than a week of whole hours was seen by then)."""
        day = midnight(now)
        if self.day != day:
            first = datetime.fromtimestamp(self.first_epoch, UTC).replace(tzinfo=None)
            filled = fill_gaps(self.rps, int(MAX_GAP_SECONDS // self.tick))
            self.day, self.issued = day, issue(filled, first, self.tick, self.calendar, day)
        return None if self.issued is None else self.issued.at(now)

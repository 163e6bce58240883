"""Short-horizon forecast of the entry rate, with its spread fitted on the history.

The encoder of `edgewise/Autoscale-v4` (envs/features.py) sizes from it, in the twin and
in-cluster alike. Model, in logs: rate = (ordinary + announced uplift) x exp(level + deviation).
- ordinary: the same time one and two weeks ago, each smoothed over +-15 ticks, the lower of the
  two (a one-off surge last week is ignored); the last rate while the history is under a week;
- uplift: the announced calendar events, in units of that day's ordinary peak a week earlier
  (the median of the last seven daily maxima until known);
- level: EWMA (alpha 0.05) of log(observed / expected), the slow error;
- deviation: the fast error, log(observed / expected) - level, which decays as phi ** k over k
  ticks (AR(1); demand deviations are autocorrelated minute to minute).
`phi` and the spread of the k-tick-ahead log error (`spread_log[k - 1]`) are fitted by replaying
the model over the history's last week, so the headroom a sizing adds is measured, not assumed.
With under a week and a day of history, phi is 0 and the spread the week-over-week default.

The fitted spread is a floor, not a constant: the run's own one-tick errors, over that spread,
are tracked as an EWMA of their square (`SCALE_ALPHA`, about 20 ticks), and every horizon's
spread is widened by its root (`spread_scale`, 1 to `MAX_SPREAD_SCALE`). On ordinary ticks the
errors match the fit and the scale stays near 1; in a surge the forecast did not see coming, or
on a day noisier than the history's last week, the errors grow and the headroom a sizing takes
from the spread grows with them, within a few ticks, before the surge has run the pods short.

A ramp the forecast did not see coming (`surprise_growth` above `SURPRISE_LIMIT`: demand has
grown more than 10% beyond the expectation over the last `GROWTH_TICKS` ticks) is carried
forward: the deviation holds instead of decaying and the ramp's slope (`trend`, the
least-squares slope of those ticks' log errors) is added for each tick ahead, up to
`MAX_TREND_LOG` (2x). A surge growing 5% a tick is then forecast to go on growing over the
pods' start-up, not to fall back to the expectation; the adaptive spread alone sized for the
rate now with wider headroom, and ran one replica short through most of a long ramp.

Closed hours and intermittent demand: a tick with no demand (or no expectation) carries no error
to learn from, so the state decays instead, the level as its EWMA would towards a zero error and
the deviation as phi ** k: after a night closed, yesterday evening's surprise is forgotten rather
than multiplied onto the morning's announced uplift. The median is also bounded by what demand
could reach: `CEILING_FACTOR` x (the larger of the ordinary daily peak and the last day's maximum,
plus the announced uplift).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

import numpy as np

from envs.workload import Event

WEEK_SECONDS = 7 * 86_400
SMOOTH_HALF_TICKS = 15
LEVEL_ALPHA = 0.05
MAX_HORIZON_TICKS = 120
DEFAULT_SPREAD_LOG = 0.1
CEILING_FACTOR = 2.0
GROWTH_TICKS = 15
SCALE_ALPHA = 0.05
MAX_SPREAD_SCALE = 3.0
# one outlier tick widens the spread to sqrt(0.95 + 0.05 x 100) = 2.4x at most
MAX_SQUARED_ERROR = 100.0
# log growth of the entry rate against the expectation over `GROWTH_TICKS` ticks beyond which
# demand is off the forecast (`surprise_growth`): upwards, the median carries the ramp forward
SURPRISE_LIMIT = 0.1
MAX_TREND_LOG = 0.7  # a ramp carried forward adds at most 2x to the median


class EntryForecast:
    """Stateful: `observe` each tick's entry rate in time order, then ask `median`/`spread_log`."""

    def __init__(self, history_rps: np.ndarray, tick_seconds: int,
                 calendar: tuple[Event, ...]) -> None:
        self.tick_seconds, self.calendar = tick_seconds, calendar
        self._week = WEEK_SECONDS // tick_seconds
        self._day = 86_400 // tick_seconds
        hist = np.asarray(history_rps, dtype=float)
        self._buf = np.zeros(len(hist) + 4096)
        self._buf[: len(hist)] = hist
        self._cum = np.concatenate([[0.0], np.cumsum(self._buf)])
        self._n = len(hist)
        self.level = 0.0
        self.deviation = 0.0
        self._peak, self._peak_at = self._median_day_max(), self._n
        self._event_peaks: dict[int, float] = {}
        self.phi = 0.0  # while fitting, a tick with no demand clears the deviation
        self.phi, self.spread_log = self._fit()
        self._errors: deque[float] = deque(maxlen=GROWTH_TICKS + 1)
        self._squared_error = 1.0  # EWMA of (one-tick log error / spread_log[0]) ** 2

    @property
    def last_rps(self) -> float:
        return float(self._buf[self._n - 1]) if self._n else 0.0

    def rate_ago(self, ticks: int) -> float:
        return float(self._buf[max(self._n - 1 - ticks, 0)]) if self._n else 0.0

    def observe(self, rate_rps: float, now: datetime) -> None:
        """Record the entry rate of the tick that ended at `now`; update level and deviation."""
        self._append(rate_rps)
        last = np.array([-float(self.tick_seconds)])
        expected = float(self._expected(np.array([self._n - 1]), now, last)[0])
        self._track_spread(expected, rate_rps)
        self._errors.append(self._update(expected, rate_rps))

    @property
    def spread_scale(self) -> float:
        """How much wider than fitted the run's recent one-tick errors say the spread is (>= 1)."""
        return float(np.clip(np.sqrt(self._squared_error), 1.0, MAX_SPREAD_SCALE))

    def _track_spread(self, expected: float, rate_rps: float) -> None:
        """Fold this tick's error against the one-tick-ahead median (before `_update` moves the
        state) into the squared-error EWMA; a tick with no demand carries none: it decays to 1."""
        z2 = 1.0
        if expected > 0 and rate_rps > 0:
            predicted = np.log(expected) + self.level + self.phi * self.deviation
            z = (np.log(rate_rps) - predicted) / max(float(self.spread_log[0]), 1e-3)
            z2 = min(float(z * z), MAX_SQUARED_ERROR)
        self._squared_error = (1 - SCALE_ALPHA) * self._squared_error + SCALE_ALPHA * z2

    @property
    def surprise_growth(self) -> float:
        """How much faster than expected demand grew over the last `GROWTH_TICKS` observed
        ticks: log(observed / expected) now minus that many ticks ago (fewer until then; 0
        before two). The daily curve and announced uplifts are in the expectation, so this is the
        part of a ramp the forecast did not see coming."""
        return self._errors[-1] - self._errors[0] if self._errors else 0.0

    @property
    def trend(self) -> float:
        """Log growth a tick of a ramp the forecast did not see coming: while `surprise_growth`
        is above `SURPRISE_LIMIT`, the least-squares slope of the last `GROWTH_TICKS` ticks'
        log errors, floored at 0; otherwise 0."""
        if self.surprise_growth <= SURPRISE_LIMIT or len(self._errors) < 3:
            return 0.0
        errors = np.asarray(self._errors)
        x = np.arange(len(errors)) - (len(errors) - 1) / 2
        return max(float((x * errors).sum() / (x * x).sum()), 0.0)

    def median(self, now: datetime, horizon: int) -> np.ndarray:
        """q50 entry rate for ticks +1 .. +horizon. Ordinarily the deviation decays as phi ** k;
        in a ramp the forecast did not see coming (`trend` > 0) it holds instead, and the ramp's
        slope is carried forward, up to `MAX_TREND_LOG`."""
        k = np.arange(horizon)
        expected = self._expected(self._n + k, now, k * float(self.tick_seconds))
        trend = self.trend
        if trend > 0:
            err = self.level + self.deviation + np.minimum(trend * (k + 1.0), MAX_TREND_LOG)
        else:
            err = self.level + self.phi ** (k + 1.0) * self.deviation
        result: np.ndarray = np.minimum(expected * np.exp(err), self.ceiling(now, horizon))
        return result

    def ceiling(self, now: datetime, horizon: int) -> np.ndarray:
        """The most the median may say for ticks +1 .. +horizon (see the module docstring)."""
        recent = self._buf[max(0, self._n - self._day) : self._n]
        usual = max(self._peak, float(recent.max()) if len(recent) else 0.0)
        offsets = np.arange(horizon) * float(self.tick_seconds)
        result: np.ndarray = CEILING_FACTOR * (usual + self._uplift(now, offsets))
        return result

    def spread(self, horizon: int) -> np.ndarray:
        """Log-error standard deviation for ticks +1 .. +horizon: the fitted one (flat past the
        fitted range) x `spread_scale`."""
        k = np.minimum(np.arange(horizon), len(self.spread_log) - 1)
        result: np.ndarray = self.spread_log[k] * self.spread_scale
        return result

    def _update(self, expected: float, rate_rps: float) -> float:
        """Fold one tick's log error into level and deviation; returns that error. A tick with
        no demand or no expectation has none: the state decays (level towards 0 at the EWMA's
        rate, deviation by phi) and the decayed level + deviation is returned."""
        if expected > 0 and rate_rps > 0:
            err = float(np.log(rate_rps / expected))
            self.level = float(np.clip((1 - LEVEL_ALPHA) * self.level + LEVEL_ALPHA * err, -1, 2))
            self.deviation = err - self.level
            return err
        self.level *= 1 - LEVEL_ALPHA
        self.deviation *= self.phi
        return self.level + self.deviation

    def _fit(self) -> tuple[float, np.ndarray]:
        """Replay the history's last week: (phi, spread of the k-tick log error, k = 1..)."""
        first = max(self._n - self._week, self._week)
        if self._n - first < self._day:
            return 0.0, np.full(MAX_HORIZON_TICKS, DEFAULT_SPREAD_LOG)
        idx = np.arange(first, self._n)
        expected = self._ordinary(idx)  # events in the history are not in the calendar
        errs, levels, devs = [], [], []
        for e, r in zip(expected.tolist(), self._buf[first : self._n].tolist(), strict=True):
            errs.append(self._update(e, r))
            levels.append(self.level)
            devs.append(self.deviation)
        err, lev, dev = np.array(errs), np.array(levels), np.array(devs)
        r = np.corrcoef(dev[1:], dev[:-1])[0, 1] if dev.std() > 0 else 0.0
        phi = float(np.clip(np.nan_to_num(r), 0.0, 0.99))
        horizon = min(MAX_HORIZON_TICKS, len(err) // 2)
        spread = np.array([
            np.std(err[k:] - lev[:-k] - phi**k * dev[:-k]) for k in range(1, horizon + 1)
        ])
        return phi, spread

    def _expected(self, index: np.ndarray, now: datetime, offsets_s: np.ndarray) -> np.ndarray:
        result: np.ndarray = self._ordinary(index) + self._uplift(now, offsets_s)
        return result

    def _smoothed(self, index: np.ndarray) -> np.ndarray:
        lo = np.clip(index - SMOOTH_HALF_TICKS, 0, self._n)
        hi = np.clip(index + SMOOTH_HALF_TICKS + 1, 0, self._n)
        result: np.ndarray = (self._cum[hi] - self._cum[lo]) / np.maximum(hi - lo, 1)
        return result

    def _ordinary(self, index: np.ndarray) -> np.ndarray:
        """Smoothed seasonal naive at buffer indices (the future starts at self._n)."""
        one = index - self._week
        two = one - self._week
        first, second = self._smoothed(one), self._smoothed(two)
        out = np.where(two >= 0, np.minimum(first, second), first)
        result: np.ndarray = np.where(one >= 0, out, self.last_rps)
        return result

    def _append(self, rate: float) -> None:
        if self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros(len(self._buf))])
            self._cum = np.concatenate([self._cum, np.zeros(len(self._buf) - len(self._cum) + 1)])
        self._buf[self._n] = rate
        self._cum[self._n + 1] = self._cum[self._n] + rate
        self._n += 1
        if self._n - self._peak_at >= self._day:
            self._peak, self._peak_at = self._median_day_max(), self._n

    def _median_day_max(self) -> float:
        """Median of the maxima of the last 7 whole 24-hour blocks counted back from now: a
        rolling window, not calendar days (`envs.daily_peak`), as Autoscale-v2 was trained."""
        recent = self._buf[max(0, self._n - 7 * self._day) : self._n]
        if len(recent) == 0:
            return 1.0
        days = [recent[i : i + self._day].max() for i in range(0, len(recent), self._day)]
        return float(max(np.median(days), 1e-6))

    def _event_peak(self, i: int, now: datetime) -> float:
        """Ordinary daily peak on event i's day: the maximum, one week earlier, of that day
        (the median daily maximum until the history covers it)."""
        if i in self._event_peaks:
            return self._event_peaks[i]
        ev = self.calendar[i]
        day_start = ev.start.replace(hour=0, minute=0, second=0, microsecond=0)
        first = self._n + int((day_start - now).total_seconds() // self.tick_seconds) - self._week
        last = first + self._day
        if first < 0 or last > self._n:
            return self._peak
        self._event_peaks[i] = float(self._buf[first:last].max())
        return self._event_peaks[i]

    def _uplift(self, now: datetime, offsets_s: np.ndarray) -> np.ndarray:
        total = np.zeros_like(offsets_s)
        for i, ev in enumerate(self.calendar):
            since = (now - ev.start).total_seconds()
            if since + offsets_s[-1] < 0 or ev.end <= now:
                continue
            total += ev.uplift(offsets_s + since) * self._event_peak(i, now)
        return total

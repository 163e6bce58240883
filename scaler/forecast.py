"""Forecasts of entry demand from its history: seasonal naive and Holt-Winters.

A forecaster sees the demand of past ticks (oldest first) and predicts the next `steps` ticks.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np

WEEK_SECONDS = 7 * 86_400


class Forecaster(Protocol):
    @property
    def min_history_ticks(self) -> int:
        """Ticks of history `predict` needs."""
        ...

    def predict(self, history_rps: np.ndarray, steps: int) -> np.ndarray:
        """Entry demand for the `steps` ticks after the end of `history_rps`."""
        ...


class SeasonalNaive:
    """The same ticks one season (a week by default) earlier."""

    def __init__(self, tick_seconds: int, season_seconds: int = WEEK_SECONDS) -> None:
        self.period = season_seconds // tick_seconds

    @property
    def min_history_ticks(self) -> int:
        return self.period

    def predict(self, history_rps: np.ndarray, steps: int) -> np.ndarray:
        if len(history_rps) < self.period:
            raise ValueError(
                f"seasonal naive needs {self.period} ticks of history, has {len(history_rps)}"
            )
        idx = len(history_rps) - self.period + np.arange(steps)
        result: np.ndarray = history_rps[idx % len(history_rps)]
        # beyond one season ahead the index wraps into the forecast itself: repeat the season
        return result


class HoltWinters:
    """Additive-trend, multiplicative-seasonal exponential smoothing (statsmodels) on hourly
    means of the last `window_seconds` of history, refitted every `refit_seconds`.

    Between refits the last fit's forecast is reused, shifted by the ticks that have passed, as
    the Predictive Horizontal Pod Autoscaler does with its model between syncs.
    """

    def __init__(
        self,
        tick_seconds: int,
        season_seconds: int = WEEK_SECONDS,
        window_seconds: int = 14 * 86_400,
        refit_seconds: int = 6 * 3600,
        horizon_seconds: int = 12 * 3600,
    ) -> None:
        self.tick_seconds = tick_seconds
        self.per_hour = max(1, 3600 // tick_seconds)
        self.season_hours = season_seconds // 3600
        self.window_ticks = window_seconds // tick_seconds
        self.refit_ticks = max(1, refit_seconds // tick_seconds)
        self.horizon_ticks = horizon_seconds // tick_seconds
        self._fitted_at: int | None = None
        self._forecast = np.zeros(0)

    @property
    def min_history_ticks(self) -> int:
        """Two seasons of hourly means."""
        return 2 * self.season_hours * self.per_hour

    def _fit(self, history_rps: np.ndarray) -> np.ndarray:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        window = history_rps[-self.window_ticks :]
        hours = len(window) // self.per_hour
        hourly = window[len(window) - hours * self.per_hour :].reshape(hours, self.per_hour).mean(1)
        model = ExponentialSmoothing(
            np.maximum(hourly, 1e-3),
            trend="add",
            damped_trend=True,
            seasonal="mul",
            seasonal_periods=self.season_hours,
            initialization_method="estimated",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(optimized=True)
        ahead = int(np.ceil(self.horizon_ticks / self.per_hour)) + 2
        hourly_fc = np.asarray(fit.forecast(ahead))
        # hour h of the forecast covers ticks [h*per_hour, (h+1)*per_hour) after the window
        ticks = np.repeat(hourly_fc, self.per_hour)
        result: np.ndarray = np.maximum(ticks, 0.0)
        return result

    def predict(self, history_rps: np.ndarray, steps: int) -> np.ndarray:
        n = len(history_rps)
        if (
            self._fitted_at is None
            or n - self._fitted_at >= self.refit_ticks
            or n < self._fitted_at
        ):
            if n < self.min_history_ticks:
                raise ValueError(
                    f"Holt-Winters needs two seasons of history ({2 * self.season_hours} h), has "
                    f"{n * self.tick_seconds / 3600:.1f} h"
                )
            self._forecast = self._fit(history_rps)
            self._fitted_at = n
        offset = n - self._fitted_at
        fc = self._forecast[offset : offset + steps]
        if len(fc) < steps:
            fc = np.concatenate([fc, np.full(steps - len(fc), fc[-1] if len(fc) else 0.0)])
        return fc

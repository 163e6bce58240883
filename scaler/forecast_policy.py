"""Forecast policies a user would otherwise pick (the HPA and KEDA live in hpa/ and keda.py).

- `ForecastPolicy`: replicas from a demand forecast over each service's start-up lead time, at a
  target utilisation: with `SeasonalNaive` (same time last week x headroom) or `HoltWinters`
  (like the Predictive Horizontal Pod Autoscaler, whose default decision is the maximum of the
  model's prediction and the replica count the current load needs).
"""

from __future__ import annotations

import numpy as np

from envs.observation import Observation
from scaler.forecast import Forecaster, HoltWinters, SeasonalNaive
from scaler.policy import PolicyContext, utilisation_replicas


class ForecastPolicy:
    """Desired replicas = need at the forecast's peak over [t + 1, t + 1 + start-up lead]."""

    def __init__(
        self,
        name: str,
        forecaster: Forecaster,
        *,
        target_utilisation: float = 0.7,
        headroom: float = 1.0,
        reactive_floor: bool = False,
    ) -> None:
        self.name = name
        self.forecaster = forecaster
        self.target_utilisation = target_utilisation
        self.headroom = headroom
        self.reactive_floor = reactive_floor
        self.last_forecast_rps: np.ndarray | None = None  # entry demand over the lead, last tick

    def reset(self, ctx: PolicyContext) -> None:
        self.ctx = ctx
        self._history = np.asarray(ctx.history_rps, dtype=float).copy()
        self._seen = len(self._history)
        self._lead = ctx.graph.startup_ticks(ctx.tick_seconds)

    def decide(self, obs: Observation) -> np.ndarray:
        if obs.tick >= 0:  # the observation before the run is the history's last tick
            if self._seen == len(self._history):  # grow the buffer geometrically
                self._history = np.concatenate([self._history, np.zeros(len(self._history) + 1)])
            self._history[self._seen] = obs.entry_rate_rps
            self._seen += 1
        history = self._history[: self._seen]
        forecast = self.forecaster.predict(history, int(self._lead.max()) + 1)
        self.last_forecast_rps = forecast
        peak = np.array([forecast[: k + 1].max() for k in self._lead]) * self.headroom
        need = utilisation_replicas(self.ctx.graph, peak, self.target_utilisation)
        if self.reactive_floor:
            need = np.maximum(
                need, utilisation_replicas(self.ctx.graph, obs.entry_rate_rps,
                                           self.target_utilisation))
        result: np.ndarray = need
        return result


def seasonal_naive(tick_seconds: int) -> ForecastPolicy:
    return ForecastPolicy("seasonal-naive", SeasonalNaive(tick_seconds), headroom=1.2)


def holt_winters(tick_seconds: int) -> ForecastPolicy:
    return ForecastPolicy("holt-winters", HoltWinters(tick_seconds), reactive_floor=True)

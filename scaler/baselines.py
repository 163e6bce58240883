"""Baseline policies a user would otherwise pick (the HPA and KEDA live in hpa.py and keda.py).

- `StaticPeakPolicy`: provision for the scenario's peak all the time (the Q4 "just buy enough").
- `OraclePolicy`: clairvoyant: knows future demand, and has exactly the replicas the SLO needs
  ready in time, at the least replica count the twin's model allows. The physical limit.
- `ForecastPolicy`: replicas from a demand forecast over each service's start-up lead time, at a
  target utilisation: with `SeasonalNaive` (same time last week x headroom) or `HoltWinters`
  (like the Predictive Horizontal Pod Autoscaler, whose default decision is the maximum of the
  model's prediction and the replica count the current load needs).
"""

from __future__ import annotations

import numpy as np

from envs.capacity import lead_schedule, required_replicas
from envs.observation import Observation
from envs.twin import TwinConfig
from scaler.forecast import Forecaster, HoltWinters, SeasonalNaive
from scaler.policy import PolicyContext


class StaticPeakPolicy:
    name = "static-peak"

    def __init__(self, config: TwinConfig, future_rps: np.ndarray) -> None:
        self._replicas = required_replicas(config, future_rps).max(axis=0)

    def reset(self, ctx: PolicyContext) -> None:
        return None

    def decide(self, obs: Observation) -> np.ndarray:
        result: np.ndarray = self._replicas
        return result


class OraclePolicy:
    name = "oracle"

    def __init__(self, config: TwinConfig, future_rps: np.ndarray) -> None:
        self.schedule = lead_schedule(config, required_replicas(config, future_rps))

    def reset(self, ctx: PolicyContext) -> None:
        return None

    def decide(self, obs: Observation) -> np.ndarray:
        result: np.ndarray = self.schedule[min(obs.tick + 1, len(self.schedule) - 1)]
        return result


def utilisation_replicas(
    ctx: PolicyContext, entry_rps: np.ndarray | float, target_utilisation: float
) -> np.ndarray:
    """Replicas each service needs to carry `entry_rps` at the target utilisation."""
    rates = np.asarray(entry_rps, dtype=float)[..., None] * ctx.graph.visit_ratios()
    cap = ctx.graph.array("capacity_rps")
    result: np.ndarray = np.ceil(rates / (cap * target_utilisation) - 1e-9).astype(int)
    return result


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
        startup = ctx.graph.array("startup_seconds")
        self._lead = np.ceil(startup / ctx.tick_seconds).astype(int)  # start-up ticks

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
        need = np.ceil(
            peak
            * self.ctx.graph.visit_ratios()
            / (self.ctx.graph.array("capacity_rps") * self.target_utilisation)
        ).astype(int)
        if self.reactive_floor:
            need = np.maximum(
                need, utilisation_replicas(self.ctx, obs.entry_rate_rps, self.target_utilisation)
            )
        result: np.ndarray = need
        return result


def seasonal_naive(tick_seconds: int) -> ForecastPolicy:
    return ForecastPolicy("seasonal-naive", SeasonalNaive(tick_seconds), headroom=1.2)


def holt_winters(tick_seconds: int) -> ForecastPolicy:
    return ForecastPolicy("holt-winters", HoltWinters(tick_seconds), reactive_floor=True)

"""KEDA on the twin: a ScaledObject's triggers become External metrics of one HPA per service.

KEDA does not scale between 1 and N itself: it creates an HPA whose metrics are its triggers,
served by its metrics adapter, so this policy reuses `HorizontalController` unchanged.

Triggers per service (both AverageValue, KEDA's default metric type):
- prometheus: the service's request rate, threshold = 0.7 x capacity_rps per replica;
- cron (business hours, 08:00-22:00 local time of `obs.now`): desiredReplicas carries the
  service's share of the median daily peak of `ctx.history_rps`;
- cron per announced event in `ctx.calendar`, window [event.start, event.end): desiredReplicas
  carries that daily peak x event.multiplier (an SRE pre-scaling for a known sale).
A cron scaler reports desiredReplicas inside its window and 1 outside, against a target of 1.

KEDA's `behavior` comes from `advanced.horizontalPodAutoscalerConfig`; without it (the
default) the HPA has no behavior and the controller runs its legacy normalization, which is
what `KedaPolicy()` does. pollingInterval (30 s) drives KEDA's activation loop and cached
metrics, cooldownPeriod (300 s) only the scale to zero: every service has min_replicas >= 1,
so neither changes a decision here (the HPA queries the adapter on its own 15 s sync).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from envs.daily_peak import median_daily_peak
from envs.observation import Observation
from scaler.errors import ScalerError
from scaler.hpa.behavior import Behavior
from scaler.hpa.policy import (
    ControllerConfig,
    ExternalReading,
    HorizontalController,
    HpaSpec,
    PodCounts,
    Reading,
    TargetType,
    run_syncs,
    syncs_per_tick,
)
from scaler.policy import PolicyContext

CRON_TARGET_MILLI = 1000  # KEDA's cron scaler: AverageValue target of 1 replica
CRON_IDLE_REPLICAS = 1  # what a cron scaler reports outside its window


@dataclass(frozen=True)
class CronWindow:
    """A cron trigger reduced to one window: `desired` per service inside [start, end)."""

    name: str
    start: datetime
    end: datetime
    desired: np.ndarray

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True)
class KedaSettings:
    target_fraction: float = 0.7
    business_start_hour: int = 8
    business_end_hour: int = 22
    polling_interval_seconds: int = 30
    cooldown_period_seconds: int = 300


class KedaPolicy:
    """A KEDA ScaledObject per service (prometheus threshold + cron floors)."""

    name = "keda"

    def __init__(self, settings: KedaSettings | None = None, behavior: Behavior | None = None,
                 config: ControllerConfig | None = None) -> None:
        self.settings = settings or KedaSettings()
        self.behavior = behavior
        self.config = config or ControllerConfig()
        self._ctx: PolicyContext | None = None
        self._controllers: list[HorizontalController] = []
        self._threshold_milli: np.ndarray = np.zeros(0, dtype=np.int64)
        self._peak_replicas: np.ndarray = np.zeros(0)
        self._events: tuple[CronWindow, ...] = ()

    def reset(self, ctx: PolicyContext) -> None:
        self._ctx = ctx
        graph = ctx.graph
        threshold_rps = self.settings.target_fraction * graph.array("capacity_rps")
        self._threshold_milli = np.round(threshold_rps * 1000).astype(np.int64)
        history = np.asarray(ctx.history_rps, dtype=float)
        first = ctx.start - timedelta(seconds=len(history) * ctx.tick_seconds)
        peak = median_daily_peak(history, first, ctx.tick_seconds)
        share_rps = peak * graph.visit_ratios()
        self._peak_replicas = share_rps / threshold_rps
        self._events = tuple(
            CronWindow(ev.name, ev.start, ev.end, self._cron_replicas(ev.multiplier))
            for ev in ctx.calendar if ev.announced
        )
        self._controllers = [
            HorizontalController(HpaSpec(s.min_replicas, s.max_replicas, self.behavior),
                                 self.config)
            for s in graph.services
        ]

    def _cron_replicas(self, multiplier: float) -> np.ndarray:
        # round first so that float noise (e.g. 2.0000000001) does not add a replica
        return np.ceil(np.round(self._peak_replicas * multiplier, 9)).astype(np.int64)

    def _business_hours(self, now: datetime) -> bool:
        return self.settings.business_start_hour <= now.hour < self.settings.business_end_hour

    def cron_windows(self, now: datetime) -> tuple[CronWindow, ...]:
        """The business-hours window of `now`'s day followed by the announced events."""
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        business = CronWindow(
            "business-hours",
            day + timedelta(hours=self.settings.business_start_hour),
            day + timedelta(hours=self.settings.business_end_hour),
            self._cron_replicas(1.0),
        )
        return (business, *self._events)

    def readings(self, service: int, rate_rps: float, now: datetime) -> Sequence[Reading]:
        """The HPA's external metrics for one service at `now`."""
        prometheus = ExternalReading("prometheus-rate-rps", TargetType.AVERAGE_VALUE,
                                     int(self._threshold_milli[service]),
                                     (round(rate_rps * 1000),))
        crons = [
            ExternalReading(f"cron-{w.name}", TargetType.AVERAGE_VALUE, CRON_TARGET_MILLI,
                            ((int(w.desired[service]) if w.active(now) else CRON_IDLE_REPLICAS)
                             * 1000,))
            for w in self.cron_windows(now)
        ]
        return (prometheus, *crons)

    def decide(self, obs: Observation) -> np.ndarray:
        ctx = self._ctx
        if ctx is None:
            raise ScalerError("KedaPolicy.decide called before reset(ctx)")
        start = (obs.now - ctx.start).total_seconds()
        syncs = syncs_per_tick(ctx.tick_seconds, self.config.sync_period_seconds)
        desired = np.empty(len(self._controllers), dtype=np.int64)
        for i, controller in enumerate(self._controllers):
            rate = float(obs.rate_rps[i])

            def readings(_pods: PodCounts, now_seconds: float, i: int = i,
                         rate: float = rate) -> Sequence[Reading]:
                return self.readings(i, rate, ctx.start + timedelta(seconds=now_seconds))

            pods = PodCounts(int(obs.ready[i]), int(obs.pending[i]))
            desired[i] = run_syncs(controller, start, syncs, int(obs.desired[i]), pods, readings)
        return desired


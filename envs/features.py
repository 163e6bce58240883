"""The observation encoder of `edgewise/Autoscale-v4`, shared by the env and the RL policy adapter.

One `FeatureEncoder` turns each `Observation` (from the twin, or from Prometheus in-cluster)
into the float32 feature vector the policy network reads, and into the *base sizing* the
network's action multiplies. It is stateful: its forecast (`envs.entry_forecast`) keeps the
entry demand seen so far (the history window first), so call `encode` once per tick, in time
order.

Forecast quantiles q10/q50/q90 assume log-normal errors with the spread fitted on the history
for each tick ahead, widened while the run's own errors are larger (`EntryForecast.spread`).

Base sizing: per service, the replicas the SLO needs (the twin's latency model, as the oracle
sizes, `envs.sizing.SizingTable`) at the peak, over the service's start-up lead, of
max(q50 forecast, current rate) x exp(BASE_Z x the forecast's spread at that tick). The policy's
action is a log2 multiplier on it (see envs/autoscale_v2.py): it learns the headroom the
situation calls for beyond what the history's errors say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from envs.entry_forecast import EntryForecast
from envs.graph import ServiceGraph
from envs.observation import Observation, Slo
from envs.sizing import SizingTable
from envs.twin_config import TwinConfig
from envs.workload import Event

LATENCY_CAP = 4.0
BASE_Z = 2.25  # headroom in spreads (fitted x spread_scale), chosen on bench.network_validation
HORIZONS_TICKS = (5, 30, 120)
QUANTILES = ((10, -1.2816), (50, 0.0), (90, 1.2816))

PER_SERVICE: tuple[tuple[str, str], ...] = (
    ("load_over_ready_capacity", "ratio, offered rps / (ready x capacity_rps), capped at 4"),
    ("cpu_utilization", "ratio of CPU request used by ready pods"),
    ("pending_over_desired", "ratio"),
    ("p95_over_slo", "ratio of service p95 to the SLO p95, capped at 4"),
    ("log2_desired_over_base", "log2 ratio of current desired to base sizing"),
    ("log2_base_over_reactive", "log2 ratio of base sizing to the need at the current rate"),
    ("depth", "calls from the entry service (shortest)"),
    ("visits_per_request", "requests per entry request (product of fan-outs)"),
    ("critical_path_share", "share of the critical path's mean service time"),
    ("startup_ticks", "ticks from pod creation to ready / 10"),
)
CALENDAR: tuple[tuple[str, str], ...] = (
    ("event_hours_until_over_24", "hours until the next announced event / 24 (1: none in 24 h)"),
    ("event_multiplier_over_10", "announced event multiplier / 10"),
    ("event_active", "1 while an announced event is under way"),
)
GLOBAL: tuple[tuple[str, str], ...] = (
    ("e2e_p95_over_slo", "ratio, capped at 4"),
    ("error_ratio", "ratio of requests failed"),
    ("tod_sin", "sin of time of day"), ("tod_cos", "cos of time of day"),
    ("dow_sin", "sin of time of week"), ("dow_cos", "cos of time of week"),
    *CALENDAR,
    ("log2_level", "log2 of observed over expected entry rate (EWMA)"),
    ("log2_rate_trend", "log2 of entry rate now over 5 ticks ago"),
    *(
        (f"forecast_h{h}_q{q}", f"log2 of the q{q} forecast peak over {h} ticks / current rate")
        for h in HORIZONS_TICKS for q, _ in QUANTILES
    ),
)


def calendar_features(calendar: tuple[Event, ...], now: datetime) -> tuple[float, float, float]:
    """(hours until the next announced event within 24 h / 24 or 1, its multiplier / 10, active)."""
    until, mult, active = 1.0, 0.0, 0.0
    for ev in calendar:
        hours = (ev.start - now).total_seconds() / 3600
        if ev.start <= now < ev.end:
            active, mult = 1.0, max(mult, ev.multiplier / 10)
        elif 0 <= hours < 24 * until:
            until, mult = hours / 24, max(mult, ev.multiplier / 10)
    return until, mult, active


def observation_schema(graph: ServiceGraph) -> list[dict[str, str]]:
    """Names and units of every feature, in order (recorded in a model's manifest)."""
    per = [{"name": f"{s}.{f}", "unit": u} for s in graph.names for f, u in PER_SERVICE]
    return per + [{"name": f, "unit": u} for f, u in GLOBAL]


def graph_features(config: TwinConfig) -> np.ndarray:
    """(services, 4): depth, visits per request, critical-path share, start-up ticks / 10."""
    g = config.graph
    depth = np.full(len(g.services), np.inf)
    for nodes, _ in g.entry_paths():
        for hop, s in enumerate(nodes):
            depth[s] = min(depth[s], hop)
    depth[~np.isfinite(depth)] = 0.0
    reach = config.path_weights.reach
    time_s = g.array("service_time_ms")[:, None] * reach
    critical = int(np.argmax(time_s.sum(axis=0)))
    share = time_s[:, critical] / max(float(time_s[:, critical].sum()), 1e-9)
    return np.stack([depth, config.visit_ratios, share, config.startup_ticks / 10.0], axis=1)


@dataclass(frozen=True)
class FeatureContext:
    """What the encoder knows before the run (the fields of scaler.policy.PolicyContext)."""

    graph: ServiceGraph
    slo: Slo
    tick_seconds: int
    history_rps: np.ndarray
    calendar: tuple[Event, ...]


class FeatureEncoder:
    """Observation -> (features, base sizing); see the module docstring."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx
        self.config = TwinConfig(ctx.graph, ctx.slo, ctx.tick_seconds)
        self.names = [d["name"] for d in observation_schema(ctx.graph)]
        self._graph = graph_features(self.config)
        self._lead = self.config.startup_ticks + 1
        hist = np.asarray(ctx.history_rps, dtype=float)
        seen = hist[hist > 0]
        low, high = (seen.min() * 0.3, seen.max() * 3) if len(seen) else (1.0, 100.0)
        self._sizing = SizingTable(self.config, low, high)
        self._diag = np.arange(len(ctx.graph.services))
        self.forecast = EntryForecast(hist, ctx.tick_seconds, ctx.calendar)

    @property
    def size(self) -> int:
        return len(self.names)

    def encode(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """(float32 features, base sizing in replicas per service) for the next tick."""
        if obs.tick >= 0:  # the observation before the run is the history's last tick
            self.forecast.observe(obs.entry_rate_rps, obs.now)
        rate = max(obs.entry_rate_rps, 1e-6)
        horizon = max(HORIZONS_TICKS)
        median = self.forecast.median(obs.now, horizon)
        spread = self.forecast.spread(horizon)
        upper = np.maximum.accumulate(np.maximum(median, rate) * np.exp(BASE_Z * spread))
        target = upper[self._lead - 1]
        base = self._sizing.need(target)[self._diag, self._diag].astype(float)
        need_now = self._sizing.need(np.array([rate]))[0]
        per = self._per_service(obs, base, need_now)
        glob = self._global(obs, rate, median, spread)
        feats = np.concatenate([per.ravel(), glob])
        return np.clip(feats, -16.0, 16.0).astype(np.float32), base

    def _per_service(self, obs: Observation, base: np.ndarray, need_now: np.ndarray) -> np.ndarray:
        cap = self.config.capacity_rps
        slo = self.ctx.slo.p95_latency_ms
        load = obs.rate_rps / np.maximum(obs.ready * cap, 1e-9)
        dyn = np.stack([
            np.minimum(load, LATENCY_CAP), obs.cpu_utilization,
            obs.pending / np.maximum(obs.desired, 1),
            np.minimum(obs.p95_latency_ms / slo, LATENCY_CAP),
            np.log2(np.maximum(obs.desired, 1) / np.maximum(base, 1)),
            np.log2(np.maximum(base, 1) / np.maximum(self.config.clip(need_now), 1)),
        ], axis=1)
        return np.concatenate([dyn, self._graph], axis=1)

    def _global(self, obs: Observation, rate: float, median: np.ndarray,
                spread: np.ndarray) -> np.ndarray:
        day = (obs.now.hour * 3600 + obs.now.minute * 60 + obs.now.second) / 86_400
        week = (obs.now.weekday() + day) / 7
        past = self.forecast.rate_ago(5) or rate
        peaks = np.stack([np.maximum.accumulate(median * np.exp(z * spread))
                          for _, z in QUANTILES], axis=1)[np.array(HORIZONS_TICKS) - 1]
        quant = np.log2(np.maximum(peaks.ravel(), 1e-6) / rate)
        return np.array([
            min(obs.e2e_p95_latency_ms / self.ctx.slo.p95_latency_ms, LATENCY_CAP),
            obs.error_ratio,
            np.sin(2 * np.pi * day), np.cos(2 * np.pi * day),
            np.sin(2 * np.pi * week), np.cos(2 * np.pi * week),
            *calendar_features(self.ctx.calendar, obs.now),
            self.forecast.level / np.log(2), np.log2(rate / max(past, 1e-6)), *quant,
        ])

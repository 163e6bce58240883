"""The observation encoder of `edgewise/Autoscale-v1`, shared by the env and the RL policy adapter.

One `FeatureEncoder` turns each `Observation` (from the twin, or from Prometheus in-cluster)
into the float32 feature vector the policy network reads, and into the *base sizing* the
network's action multiplies. It is stateful: it keeps the entry demand seen so far (the history
window first) for its forecast, so call `encode` once per tick, in time order.

Forecast: seasonal naive on the entry rate (the lower of the same tick one and two weeks ago,
which ignores a one-off surge last week), times a level correction (EWMA of observed over
expected), plus the uplift of the announced calendar events in units of the ordinary daily peak
(that day's maximum one week earlier; the median of the last seven daily maxima until known).
Quantiles q10/q50/q90 assume log-normal errors with the history's week-over-week spread.

Base sizing: per service, the replicas the SLO needs (the twin's latency model, as the oracle
sizes, `envs.sizing.SizingTable`) at max(current entry rate, q50 forecast peak over the service's
start-up lead), raised to the forecast's q84 (x exp(sigma), sigma the history's week-over-week
log spread). The policy's action is a log2 multiplier on it (see envs/autoscale_v1.py): it
learns the headroom that forecast error and noise call for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from envs.graph import ServiceGraph
from envs.observation import Observation, Slo
from envs.sizing import SizingTable
from envs.twin import TwinConfig
from envs.workload import Event

SCHEMA_VERSION = 1
LATENCY_CAP = 4.0
BASE_Z = 1.0  # base sizing at the q84 of the forecast: measured near the targets' frontier
LEVEL_ALPHA = 0.05
HORIZONS_TICKS = (5, 30, 120)
QUANTILES = ((10, -1.2816), (50, 0.0), (90, 1.2816))
WEEK_SECONDS = 7 * 86_400

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
        self._week = WEEK_SECONDS // ctx.tick_seconds
        self._lead = self.config.startup_ticks + 1
        hist = np.asarray(ctx.history_rps, dtype=float)
        seen = hist[hist > 0]
        low, high = (seen.min() * 0.3, seen.max() * 3) if len(seen) else (1.0, 100.0)
        self._sizing = SizingTable(self.config, low, high)
        self._diag = np.arange(len(ctx.graph.services))
        self._buf = np.zeros(len(hist) + 4096)
        self._buf[: len(hist)] = hist
        self._n = len(hist)
        self._level = 0.0
        self._sigma = self._spread(hist)
        self._peak = self._daily_peak()
        self._peak_at = self._n
        self._event_peaks: dict[int, float] = {}

    @property
    def size(self) -> int:
        return len(self.names)

    def _spread(self, hist: np.ndarray) -> float:
        if len(hist) <= self._week + 1:
            return 0.1
        a, b = hist[self._week :], hist[: -self._week]
        ok = (a > 0) & (b > 0)
        return float(np.clip(np.std(np.log(a[ok] / b[ok])) if ok.any() else 0.1, 0.02, 0.5))

    def _daily_peak(self) -> float:
        day = 86_400 // self.ctx.tick_seconds
        recent = self._buf[max(0, self._n - 7 * day) : self._n]
        if len(recent) == 0:
            return 1.0
        days = [recent[i : i + day].max() for i in range(0, len(recent), day)]
        return float(max(np.median(days), 1e-6))

    def _append(self, rate: float) -> None:
        if self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros(len(self._buf))])
        self._buf[self._n] = rate
        self._n += 1
        if self._n - self._peak_at >= 86_400 // self.ctx.tick_seconds:
            self._peak, self._peak_at = self._daily_peak(), self._n

    def _ordinary(self, index: np.ndarray) -> np.ndarray:
        """Seasonal naive at buffer indices (the future starts at self._n)."""
        one = index - self._week
        two = one - self._week
        first = self._buf[np.clip(one, 0, self._n - 1)]
        second = self._buf[np.clip(two, 0, self._n - 1)]
        out = np.where(two >= 0, np.minimum(first, second), first)
        result: np.ndarray = np.where(one >= 0, out, self._buf[max(self._n - 1, 0)])
        return result

    def _event_peak(self, i: int, now: datetime) -> float:
        """Ordinary daily peak on event i's day: the maximum, one week earlier, of that day
        (the median daily maximum until the history covers it)."""
        if i in self._event_peaks:
            return self._event_peaks[i]
        ev, tick = self.ctx.calendar[i], self.ctx.tick_seconds
        day_start = ev.start.replace(hour=0, minute=0, second=0, microsecond=0)
        first = self._n + int((day_start - now).total_seconds() // tick) - self._week
        last = first + 86_400 // tick
        if first < 0 or last > self._n:
            return self._peak
        self._event_peaks[i] = float(self._buf[first:last].max())
        return self._event_peaks[i]

    def _uplift(self, now: datetime, offsets_s: np.ndarray) -> np.ndarray:
        total = np.zeros_like(offsets_s)
        for i, ev in enumerate(self.ctx.calendar):
            since = (now - ev.start).total_seconds()
            if since + offsets_s[-1] < 0 or ev.end <= now:
                continue
            total += ev.uplift(offsets_s + since) * self._event_peak(i, now)
        return total

    def forecast(self, obs: Observation, horizon: int) -> np.ndarray:
        """q50 entry-rate forecast for ticks tick + 1 .. tick + horizon."""
        k = np.arange(horizon)
        ordinary = self._ordinary(self._n + k)
        uplift = self._uplift(obs.now, k * float(self.ctx.tick_seconds))
        result: np.ndarray = ordinary * np.exp(self._level) + uplift
        return result

    def _update_level(self, obs: Observation) -> None:
        if obs.tick < 0:
            return
        self._append(obs.entry_rate_rps)
        idx = np.array([self._n - 1])
        last = np.array([-float(self.ctx.tick_seconds)])
        expected = self._ordinary(idx)[0] + self._uplift(obs.now, last)[0]
        if expected > 0 and obs.entry_rate_rps > 0:
            err = float(np.log(obs.entry_rate_rps / expected))
            self._level = float(np.clip((1 - LEVEL_ALPHA) * self._level + LEVEL_ALPHA * err, -1, 2))

    def encode(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """(float32 features, base sizing in replicas per service) for the next tick."""
        self._update_level(obs)
        rate = max(obs.entry_rate_rps, 1e-6)
        fc = self.forecast(obs, max(HORIZONS_TICKS))
        peaks = np.array([max(fc[: int(k)].max(), 0.0) for k in self._lead])
        need_now = self._sizing.need(np.array([rate]))[0]
        target = np.maximum(peaks, rate) * np.exp(BASE_Z * self._sigma)
        base = self._sizing.need(target)[self._diag, self._diag].astype(float)
        per = self._per_service(obs, base, need_now)
        glob = self._global(obs, rate, fc)
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

    def _global(self, obs: Observation, rate: float, fc: np.ndarray) -> np.ndarray:
        day = (obs.now.hour * 3600 + obs.now.minute * 60 + obs.now.second) / 86_400
        week = (obs.now.weekday() + day) / 7
        past = self._buf[max(self._n - 6, 0)] if self._n else rate
        quant = [
            np.log2(max(fc[:h].max() * np.exp(z * self._sigma), 1e-6) / rate)
            for h in HORIZONS_TICKS for _, z in QUANTILES
        ]
        return np.array([
            min(obs.e2e_p95_latency_ms / self.ctx.slo.p95_latency_ms, LATENCY_CAP),
            obs.error_ratio,
            np.sin(2 * np.pi * day), np.cos(2 * np.pi * day),
            np.sin(2 * np.pi * week), np.cos(2 * np.pi * week),
            *calendar_features(self.ctx.calendar, obs.now),
            self._level / np.log(2), np.log2(rate / max(past, 1e-6)), *quant,
        ])

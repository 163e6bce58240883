"""The SRE's event plan: a per-service, per-hour minimum-replica schedule, and its what-ifs.

1. The window: the announced event from `before_hours` ahead of it to `after_hours` after its
   end (`Event.end`), on whole hours, inside the scenario's run.
2. The forecast: made `forecast_lead_hours` before the window (or at the run's start) from the
   demand observed by then, by the calendar-aware quantile model (seasonal naive plus the
   calendar's prior if torch is missing). Planned demand of an hour = `headroom` x (the largest
   P90 of the hour and its neighbours (demand moves within an hour) x the hour's burst factor,
   plus the event's within-hour peak over its hourly mean (a 10-minute ramp hides in an hourly
   mean)). The burst factor is what an hourly mean hides of the ordinary demand: per hour of
   day, the `burst_quantile` over the observed days of the hour's largest tick over the smooth
   demand. Replicas must carry each tick's demand, not the hour's average: without it a plan
   sized exactly for the event it was built for still violated the SLO in its busiest hours.
3. Sizing: the twin's own `required_replicas` on each hour's planned demand. Each hour's
   replicas hold from `lead_minutes` before the hour (start-up + one minute for KEDA/HPA to
   react) to its end: the cron triggers' meaning, and at least `lead_schedule`'s lead.
4. What-ifs: the event's multiplier replaced (1x .. 10x the ordinary daily peak) and its start
   moved (2 h early or late); each point is one twin run (`run_episode`) of the planned
   schedule alone (`reactive` none, the default) or with the CPU HPA above it (`reactive` hpa,
   as the manifests deploy it; about 40x slower), on the same seeded demand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np

from envs.capacity import required_replicas
from envs.scenario import Scenario
from envs.twin_config import TwinConfig
from envs.workload import Event
from evaluation.episode import run_episode
from planning.errors import PlanError
from scaler.errors import ModelUnavailableError
from scaler.forecast_features import HourlySeries, announced_uplift, hourly, ordinary
from scaler.hpa.policy import HpaPolicy
from scaler.policy import Policy
from scaler.quantile_forecast import QuantileForecast, QuantileForecaster, calendar_naive_forecast
from scaler.schedule import FloorPolicy

HOUR = timedelta(hours=1)
MINUTE_SECONDS = 60
REACT_MINUTES = 1  # KEDA's polling interval and the HPA's sync, rounded up


class Reactive(StrEnum):
    HPA = "hpa"
    NONE = "none"


@dataclass(frozen=True)
class PlanSettings:
    headroom: float = 1.1
    burst_quantile: float = 0.9
    seed: int = 0
    event: str | None = None
    before_hours: int = 6
    after_hours: int = 3
    forecast_lead_hours: int = 24
    reactive: Reactive = Reactive.NONE
    uplifts: tuple[float, ...] = tuple(float(k) for k in range(1, 11))
    shifts_hours: tuple[float, ...] = (-2.0, 0.0, 2.0)


@dataclass(frozen=True)
class Window:
    event: Event
    start: datetime
    hours: int


@dataclass(frozen=True)
class Block:
    """`replicas` of `service` ready from `start` to `end` (pods start `lead_minutes` earlier)."""

    service: str
    start: datetime
    end: datetime
    replicas: int
    lead_minutes: int


@dataclass(frozen=True)
class Plan:
    scenario: str
    window: Window
    settings: PlanSettings
    forecast: QuantileForecast
    planned_rps: np.ndarray  # per window hour: (P90 x burst + event peak) x headroom
    burst: np.ndarray  # per window hour: the within-hour peak over the hourly mean
    replicas: np.ndarray  # (hours, services)
    services: tuple[str, ...]
    lead_minutes: tuple[int, ...]
    blocks: tuple[Block, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SweepPoint:
    uplift: float
    shift_hours: float
    violation_minutes: float
    event_violation_minutes: float
    cost: float
    replica_hours: float
    dropped_requests: int


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def event_window(scenario: Scenario, settings: PlanSettings) -> Window:
    run_end = scenario.start + timedelta(seconds=scenario.ticks * scenario.tick_seconds)
    events = [e for e in scenario.calendar if scenario.start <= e.start < run_end]
    if settings.event is not None:
        events = [e for e in events if e.name == settings.event]
    if not events:
        known = ", ".join(e.name for e in scenario.calendar) or "none"
        what = f"no announced event {settings.event!r}" if settings.event else "no announced event"
        raise PlanError(f"scenario {scenario.name!r}: {what} in its run (announced: {known})")
    ev = events[0]
    lo = max(_floor_hour(ev.start - settings.before_hours * HOUR), scenario.start)
    hi = min(ev.end + settings.after_hours * HOUR, run_end)
    hours = math.ceil((hi - lo) / HOUR)
    return Window(ev, lo, max(hours, 1))


def observed(scenario: Scenario, seed: int, until: datetime) -> tuple[np.ndarray, datetime]:
    """Per-tick demand of the history and the run up to `until`, and its first tick's time."""
    history, run = scenario.demand(seed)
    ticks = int((until - scenario.start).total_seconds() // scenario.tick_seconds)
    first = scenario.start - timedelta(seconds=scenario.history_seconds)
    return np.concatenate([history, run[:ticks]]), first


def burst_by_hour_of_day(rps: np.ndarray, means: HourlySeries, first: datetime,
                         tick_seconds: int, quantile: float) -> np.ndarray:
    """(24,) per hour of day: the `quantile` over the observed days of an hour's largest tick
    over the smooth demand (`means`, the hourly means of `rps` observed from `first`,
    interpolated between the hours' midpoints): the
    bursts an hourly forecast cannot show. The slope between hours is not in it: the plan
    covers that by taking the larger forecast of an hour and its neighbours. 1.0 where no
    inner full hour with demand was seen."""
    per = 3600 // tick_seconds
    skip = int((means.start - first).total_seconds()) // tick_seconds
    ticks = np.asarray(rps, dtype=float)[skip : skip + len(means) * per]
    centres = (np.arange(len(means)) + 0.5) * per
    smooth = np.interp(np.arange(len(ticks)) + 0.5, centres, means.rps)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (ticks / smooth).reshape(-1, per).max(axis=1)
    ratio[[0, -1]] = np.nan  # the first and last hours have no neighbour to smooth with
    hod = np.array([(means.start.hour + h) % 24 for h in range(len(means))])
    out = np.ones(24)
    for h in range(24):
        r = ratio[(hod == h) & np.isfinite(ratio)]
        if len(r):
            out[h] = max(1.0, float(np.quantile(r, quantile)))
    return out


def plan_forecast(scenario: Scenario, window: Window,
                  settings: PlanSettings) -> tuple[QuantileForecast, np.ndarray, np.ndarray]:
    """The window's forecast, each hour's event peak above its hourly mean (rps), and each
    hour's burst factor, all from what was observed by the forecast's origin."""
    origin = max(_floor_hour(window.start - settings.forecast_lead_hours * HOUR), scenario.start)
    rps, first = observed(scenario, settings.seed, origin)
    seen = hourly(rps, first, scenario.tick_seconds)
    by_hod = burst_by_hour_of_day(rps, seen, first, scenario.tick_seconds,
                                  settings.burst_quantile)
    burst = by_hod[[(window.start.hour + h) % 24 for h in range(window.hours)]]
    origin = seen.time(len(seen))
    skip = int((window.start - origin) / HOUR)
    horizon = skip + window.hours
    if horizon > 168:
        raise PlanError(f"window ends {horizon} h after the forecast origin; at most 168 h "
                        "(lower --before-hours or pick a shorter event)")
    model = QuantileForecaster(seed=settings.seed, horizon_hours=min(horizon, 48))
    try:
        model.fit(seen, scenario.calendar)
        fc = model.forecast(seen, scenario.calendar, horizon)
    except ModelUnavailableError:
        fc = calendar_naive_forecast(seen, scenario.calendar, horizon)
    o = ordinary(seen, scenario.calendar, horizon, 168)
    n = len(seen)
    top = announced_uplift(scenario.calendar, seen.start, n + horizon, reduce="max")[n:]
    extra = (top - o.uplift[n:]) * o.peak[n:]
    window_fc = replace(fc, start=window.start, p50=fc.p50[skip:], p90=fc.p90[skip:])
    return window_fc, extra[skip:], burst


def lead_minutes(scenario: Scenario) -> tuple[int, ...]:
    startup = scenario.graph.startup_ticks(MINUTE_SECONDS)  # the plan's blocks are minutes
    return tuple(int(k) + REACT_MINUTES for k in startup)


def blocks(services: Sequence[str], replicas: np.ndarray, start: datetime,
           leads: Sequence[int]) -> tuple[Block, ...]:
    """Runs of equal replicas per service, as (service, start, end, replicas) blocks."""
    out = []
    for s, name in enumerate(services):
        col = replicas[:, s]
        cuts = [0, *(np.flatnonzero(np.diff(col)) + 1).tolist(), len(col)]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            out.append(Block(name, start + a * HOUR, start + b * HOUR, int(col[a]), leads[s]))
    return tuple(out)


def make_plan(scenario: Scenario, settings: PlanSettings) -> Plan:
    if settings.headroom <= 0:
        raise PlanError(f"headroom must be > 0, got {settings.headroom}")
    window = event_window(scenario, settings)
    if not 0.5 <= settings.burst_quantile <= 1.0:
        raise PlanError(f"burst quantile must be in [0.5, 1], got {settings.burst_quantile}")
    fc, extra, burst = plan_forecast(scenario, window, settings)
    ahead = np.append(fc.p90[1:], fc.p90[-1])
    behind = np.insert(fc.p90[:-1], 0, fc.p90[0])
    planned = (np.maximum.reduce([behind, fc.p90, ahead]) * burst + extra) * settings.headroom
    config = scenario.config()
    replicas = config.clip(required_replicas(config, planned))
    names, leads = scenario.graph.names, lead_minutes(scenario)
    return Plan(scenario.name, window, settings, fc, planned, burst, replicas, names, leads,
                blocks(names, replicas, window.start, leads))


def floor_schedule(plan: Plan, config: TwinConfig, ticks: int) -> np.ndarray:
    """(ticks, services) desired-replica floor from the window's start, as the cron triggers
    apply it: each block from its start less its lead to its end; the service minimum elsewhere."""
    floor = np.tile(config.min_replicas, (ticks, 1))
    tick = timedelta(seconds=config.tick_seconds)
    for b in plan.blocks:
        s = plan.services.index(b.service)
        t0 = max(math.floor((b.start - timedelta(minutes=b.lead_minutes) - plan.window.start)
                            / tick), 0)
        t1 = min(math.ceil((b.end - plan.window.start) / tick), ticks)
        floor[t0:t1, s] = np.maximum(floor[t0:t1, s], b.replicas)
    return floor


def what_if(scenario: Scenario, event: Event, uplift: float, shift_hours: float) -> Scenario:
    """The scenario with `event` at `uplift` x the daily peak, moved by `shift_hours`."""
    moved = replace(event, multiplier=uplift, start=event.start + shift_hours * HOUR)
    return replace(scenario, events=tuple(moved if e == event else e for e in scenario.events))


def run_point(scenario: Scenario, plan: Plan, uplift: float, shift_hours: float) -> SweepPoint:
    """One twin run of the planned floor on the what-if's demand, over the plan's window."""
    settings = plan.settings
    if scenario.trace_rps is not None:
        raise PlanError(f"scenario {scenario.name!r} replays a trace: a what-if cannot change "
                        "its demand (use a generated workload)")
    sc = what_if(scenario, plan.window.event, uplift, shift_hours)
    history, run = sc.demand(settings.seed)
    skip = int((plan.window.start - sc.start).total_seconds() // sc.tick_seconds)
    ticks = min(plan.window.hours * 3600 // sc.tick_seconds, len(run) - skip)
    windowed = replace(sc, start=plan.window.start, duration_seconds=ticks * sc.tick_seconds)
    inner: Policy | None = HpaPolicy() if settings.reactive is Reactive.HPA else None
    policy = FloorPolicy("plan", floor_schedule(plan, sc.config(), ticks), inner)
    before = np.concatenate([history, run[:skip]])
    ep = run_episode(windowed, policy, before, run[skip : skip + ticks], seed=settings.seed)
    s = ep.summary
    return SweepPoint(uplift, shift_hours, s.slo_violation_minutes,
                      s.event_slo_violation_minutes, s.cost, s.replica_hours, s.dropped_requests)


def _point(args: tuple[Scenario, Plan, float, float]) -> SweepPoint:
    return run_point(*args)


def sweep(scenario: Scenario, plan: Plan, *, jobs: int = 1,
          on_point: Callable[[], None] | None = None) -> tuple[SweepPoint, ...]:
    """Every (uplift, shift) of the settings, in that order; `jobs` > 1 uses worker processes."""
    grid = [(scenario, plan, u, h) for u in plan.settings.uplifts
            for h in plan.settings.shifts_hours]
    if jobs <= 1:
        points = []
        for args in grid:
            points.append(_point(args))
            if on_point is not None:
                on_point()
        return tuple(points)
    import multiprocessing as mp

    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
        results = []
        for p in pool.map(_point, grid):
            results.append(p)
            if on_point is not None:
                on_point()
        return tuple(results)
